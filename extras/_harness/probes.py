"""Numerics probes: the student's layers run on the host's secret inputs; outputs and gradients go back.

The tinytorch classes are passed in (this package never imports the student's code). Each probe
reads its inputs from ``evidence.inputs()`` (keys ``probe.*``; stand-ins when run directly), sets
them as the layers' parameters, runs forward and ``backward()``, and records the raw outputs and
``.grad`` arrays. The host computes the errors against its numpy reference; nothing is judged here.
"""

from __future__ import annotations

import numpy as np

from . import evidence

_F32 = np.float32


def _inputs(shapes: dict[str, tuple], ids: dict[str, tuple[int, int]]) -> dict[str, np.ndarray]:
    given = {k[len("probe."):]: v for k, v in evidence.inputs().items() if k.startswith("probe.")}
    if given:
        return given
    rng = np.random.default_rng(0)
    stand_in = evidence.stand_in(shapes)
    stand_in.update({name: rng.integers(0, high, size) for name, (size, high) in ids.items()})
    return stand_in


def _record(outputs: dict, params: dict) -> None:
    for name, value in outputs.items():
        evidence.record(f"probe.{name}", value)
    for name, param in params.items():
        evidence.record_grad(f"probe.grad.{name}", param)
    print("Numerics probe on the grader's inputs: outputs and gradients recorded "
          f"({', '.join(outputs)}; gradients of {', '.join(params)}); the grader compares them with numpy")


def linear_sigmoid_bce(Tensor, Linear, Sigmoid, BinaryCrossEntropyLoss) -> None:
    """Linear + Sigmoid + mean BCE: records ``prob``, ``loss`` and the gradients of ``w``, ``b``."""
    a = _inputs({"x": (5, 3), "w": (3, 2), "b": (2,), "t": (5, 2)}, {})
    a["t"] = (a["t"] > 0).astype(_F32)
    layer = Linear(*a["w"].shape)
    params = {"w": layer.weight, "b": layer.bias}
    evidence.set_param(layer.weight, a["w"])
    evidence.set_param(layer.bias, a["b"])
    prob = Sigmoid()(layer(Tensor(a["x"].astype(_F32))))
    loss = BinaryCrossEntropyLoss()(prob, Tensor(a["t"].astype(_F32)))
    loss.backward()
    _record({"prob": prob, "loss": loss}, params)


def mlp_cross_entropy(Tensor, Linear, ReLU, CrossEntropyLoss) -> None:
    """Linear + ReLU + Linear + mean cross-entropy: records ``logits``, ``loss`` and four gradients."""
    a = _inputs({"x": (6, 5), "w1": (5, 4), "b1": (4,), "w2": (4, 3), "b2": (3,)}, {"ids": (6, 3)})
    fc1, fc2 = Linear(*a["w1"].shape), Linear(*a["w2"].shape)
    params = {"w1": fc1.weight, "b1": fc1.bias, "w2": fc2.weight, "b2": fc2.bias}
    for name, param in params.items():
        evidence.set_param(param, a[name])
    logits = fc2(ReLU()(fc1(Tensor(a["x"].astype(_F32)))))
    loss = CrossEntropyLoss()(logits, Tensor(np.asarray(a["ids"])))
    loss.backward()
    _record({"logits": logits, "loss": loss}, params)


def mlp_tanh_bce(Tensor, Linear, Tanh, Sigmoid, BinaryCrossEntropyLoss) -> None:
    """Linear + Tanh + Linear + Sigmoid + mean BCE (the XOR network): records ``hidden``, ``prob``,
    ``loss`` and the gradients of ``w1``, ``b1``, ``w2``, ``b2``."""
    a = _inputs({"x": (4, 2), "w1": (2, 8), "b1": (8,), "w2": (8, 1), "b2": (1,), "t": (4, 1)}, {})
    a["t"] = (a["t"] > 0).astype(_F32)
    fc1, fc2 = Linear(*a["w1"].shape), Linear(*a["w2"].shape)
    params = {"w1": fc1.weight, "b1": fc1.bias, "w2": fc2.weight, "b2": fc2.bias}
    for name, param in params.items():
        evidence.set_param(param, a[name])
    hidden = Tanh()(fc1(Tensor(a["x"].astype(_F32))))
    prob = Sigmoid()(fc2(hidden))
    loss = BinaryCrossEntropyLoss()(prob, Tensor(a["t"]))
    loss.backward()
    _record({"hidden": hidden, "prob": prob, "loss": loss}, params)


def conv_pool_cross_entropy(Tensor, Conv2d, MaxPool2d, ReLU, Linear, CrossEntropyLoss) -> None:
    """Conv2d + ReLU + MaxPool2d(2) + Linear + mean cross-entropy: records ``conv``, ``pooled``,
    ``loss`` and the gradients of ``wc``, ``bc``, ``wf``, ``bf``."""
    a = _inputs({"x": (2, 2, 6, 6), "wc": (3, 2, 3, 3), "bc": (3,), "wf": (12, 4), "bf": (4,)},
                {"ids": (2, 4)})
    out_c, in_c, k, _ = a["wc"].shape
    conv, pool, fc = Conv2d(in_c, out_c, k), MaxPool2d(2), Linear(*a["wf"].shape)
    params = {"wc": conv.weight, "bc": conv.bias, "wf": fc.weight, "bf": fc.bias}
    for name, param in params.items():
        evidence.set_param(param, a[name])
    conv_out = conv(Tensor(a["x"].astype(_F32)))
    pooled = pool(ReLU()(conv_out))
    logits = fc(pooled.reshape(a["x"].shape[0], a["wf"].shape[0]))
    loss = CrossEntropyLoss()(logits, Tensor(np.asarray(a["ids"])))
    loss.backward()
    _record({"conv": conv_out, "pooled": pooled, "loss": loss}, params)
