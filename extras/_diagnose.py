"""Failure diagnosis: each course component of the package, alone, on the grader's small inputs.

The harness runs this only after an extra did not pass. For every component named in
``--components`` it reads the grader's inputs (``diag.<Component>.*`` in ``$HARNESS_IN``), runs the
package's own class or function on them (forward, then ``backward()`` on a scalar loss; an
optimizer's ``step()``), and records the raw outputs and gradients. Nothing is judged here: the
grader compares the arrays with numpy and names the first component that disagrees. A component
the package lacks is recorded as absent (status 1), one that raises as status 2 with its message.

Run it directly (`python extras/_diagnose.py --components Tanh,ReLU`) to see the same probes on
stand-in inputs.
"""

from __future__ import annotations

import argparse
import importlib
import traceback

import numpy as np
from _harness import course, evidence
from _harness.common import grad_of, to_numpy

RAN, ABSENT, RAISED = 0, 1, 2
F32 = np.float32

WHERE = {
    "Tensor": ("tinytorch.core.tensor",),
    "Linear": ("tinytorch.core.layers",),
    "ReLU": ("tinytorch.core.activations",), "Sigmoid": ("tinytorch.core.activations",),
    "Tanh": ("tinytorch.core.activations",), "GELU": ("tinytorch.core.activations",),
    "Softmax": ("tinytorch.core.activations",),
    "MSELoss": ("tinytorch.core.losses",), "BinaryCrossEntropyLoss": ("tinytorch.core.losses",),
    "CrossEntropyLoss": ("tinytorch.core.losses",),
    "Conv2d": ("tinytorch.core.spatial",), "MaxPool2d": ("tinytorch.core.spatial",),
    "scaled_dot_product_attention": ("tinytorch.core.attention",),
    "MultiHeadAttention": ("tinytorch.core.attention",),
    "LayerNorm": course.MODULE_PATHS["transformer"] + ("tinytorch.core.normalization",),
    "Embedding": course.MODULE_PATHS["embeddings"],
    "SGD": ("tinytorch.core.optimizers",), "Adam": ("tinytorch.core.optimizers",),
}

# stand-in inputs for a direct run (the grader draws its own, with other sizes)
STAND_IN = {
    "Tensor": {"a": (3, 4), "b": (4, 2), "c": (3, 2), "g": (3, 2)},
    "Linear": {"x": (3, 4), "w": (4, 2), "b": (2,), "g": (3, 2)},
    "MSELoss": {"p": (4, 3), "t": (4, 3)},
    "Conv2d": {"x": (1, 2, 5, 5), "w": (3, 2, 3, 3), "b": (3,), "g": (1, 3, 3, 3)},
    "MaxPool2d": {"x": (1, 2, 4, 4), "g": (1, 2, 2, 2)},
    "LayerNorm": {"x": (3, 5), "gamma": (5,), "beta": (5,), "g": (3, 5)},
    "SGD": {"p": (4,), "g1": (4,), "g2": (4,)}, "Adam": {"p": (4,), "g1": (4,), "g2": (4,)},
}


def find(name: str):
    """(object, module name) of ``name`` in the package, or raise LookupError saying where it looked."""
    for path in WHERE[name]:
        try:
            module = importlib.import_module(path)
        except ModuleNotFoundError as exc:
            if exc.name and (path == exc.name or path.startswith(exc.name + ".")):
                continue
            raise
        if hasattr(module, name):
            return getattr(module, name), path
    raise LookupError(f"{name} not found in {', '.join(WHERE[name])}")


def inputs_for(name: str, given: dict) -> dict[str, np.ndarray]:
    prefix = f"diag.{name}."
    mine = {k[len(prefix):]: v for k, v in given.items() if k.startswith(prefix)}
    if mine:
        return mine
    rng = np.random.default_rng(0)
    shapes = STAND_IN.get(name, {"x": (3, 4), "g": (3, 4)})
    out = evidence.stand_in(shapes)
    if name == "BinaryCrossEntropyLoss":
        out = {"p": rng.uniform(0.1, 0.9, (4, 1)).astype(F32), "t": np.array([[0], [1], [1], [0]], F32)}
    if name == "CrossEntropyLoss":
        out = {"z": evidence.stand_in({"z": (4, 3)})["z"], "ids": np.array([0, 2, 1, 2])}
    if name in ("SGD", "Adam"):
        out["lr"] = np.array(0.05)
    if name == "Embedding":
        out = {"w": evidence.stand_in({"w": (6, 3)})["w"], "ids": np.array([1, 4, 1]),
               "g": evidence.stand_in({"g": (3, 3)})["g"]}
    if name in ("scaled_dot_product_attention", "MultiHeadAttention"):
        x = evidence.stand_in({"q": (1, 4, 4), "k": (1, 4, 4), "v": (1, 4, 4)})
        out = {**x, "k2": x["k"].copy(), "v2": x["v"].copy(), "x": x["q"], "x2": x["q"].copy(),
               "cut": np.array(2), "heads": np.array(2)}
        out["k2"][:, 2:] += 1
        out["v2"][:, 2:] += 1
        out["x2"][:, 2:] += 1
    return out


def leaf(Tensor, value) -> object:
    return Tensor(np.asarray(value, dtype=F32), requires_grad=True)


def weighted_backward(Tensor, y, g) -> None:
    """``backward()`` of the scalar sum(y * g): the gradient reaching y is exactly g."""
    (y * Tensor(np.asarray(g, dtype=F32).reshape(to_numpy(y).shape))).sum().backward()


def grads(**tensors) -> dict:
    return {f"grad.{k}": grad_of(t) for k, t in tensors.items()}


def set_param(param, value) -> None:
    evidence.set_param(param, np.asarray(value, dtype=F32))


def causal_mask(seq_len: int, Tensor):
    """The package's own ``create_causal_mask`` if it has one (its convention), else 1 = may attend."""
    for path in course.MODULE_PATHS["transformer"]:
        try:
            module = importlib.import_module(path)
        except ImportError:
            continue
        make = getattr(module, "create_causal_mask", None)
        if callable(make):
            return make(seq_len)
    return Tensor(np.tril(np.ones((seq_len, seq_len), dtype=F32))[np.newaxis])


def first(out):
    """The output of a call that may return (output, attention weights)."""
    return out[0] if isinstance(out, tuple) else out


def probe(name: str, obj, Tensor, a: dict) -> dict:
    """The arrays of one component's probe (raw outputs and gradients)."""
    if name == "Tensor":
        x, w, c = leaf(Tensor, a["a"]), leaf(Tensor, a["b"]), leaf(Tensor, a["c"])
        y = (x.matmul(w) + c) * c
        weighted_backward(Tensor, y, a["g"])
        return {"out": y, **grads(a=x, b=w, c=c)}
    if name == "Linear":
        layer = obj(*a["w"].shape)
        set_param(layer.weight, a["w"])
        set_param(layer.bias, a["b"])
        x = leaf(Tensor, a["x"])
        y = layer(x)
        weighted_backward(Tensor, y, a["g"])
        return {"out": y, **grads(w=layer.weight, b=layer.bias, x=x)}
    if name in ("ReLU", "Sigmoid", "Tanh", "GELU", "Softmax"):
        x = leaf(Tensor, a["x"])
        y = obj()(x)
        weighted_backward(Tensor, y, a["g"])
        return {"out": y, **grads(x=x)}
    if name in ("MSELoss", "BinaryCrossEntropyLoss"):
        p = leaf(Tensor, a["p"])
        loss = obj()(p, Tensor(a["t"].astype(F32)))
        loss.backward()
        return {"out": loss, **grads(p=p)}
    if name == "CrossEntropyLoss":
        z = leaf(Tensor, a["z"])
        loss = obj()(z, Tensor(np.asarray(a["ids"])))
        loss.backward()
        return {"out": loss, **grads(z=z)}
    if name == "Conv2d":
        out_c, in_c, k, _ = a["w"].shape
        conv = obj(in_c, out_c, k)
        set_param(conv.weight, a["w"])
        set_param(conv.bias, a["b"])
        x = leaf(Tensor, a["x"])
        y = conv(x)
        weighted_backward(Tensor, y, a["g"])
        return {"out": y, **grads(w=conv.weight, b=conv.bias, x=x)}
    if name == "MaxPool2d":
        x = leaf(Tensor, a["x"])
        y = obj(2)(x)
        weighted_backward(Tensor, y, a["g"])
        return {"out": y, **grads(x=x)}
    if name in ("SGD", "Adam"):
        p = leaf(Tensor, a["p"])
        opt = obj([p], lr=float(a["lr"]))
        out = {}
        for step, g in ((1, a["g1"]), (2, a["g2"])):
            opt.zero_grad()
            weighted_backward(Tensor, p, g)
            opt.step()
            out[f"after{step}"] = np.array(to_numpy(p), dtype=np.float64, copy=True)
        return out
    if name == "scaled_dot_product_attention":
        q, k, v = (Tensor(a[n].astype(F32)) for n in ("q", "k", "v"))
        mask = causal_mask(a["q"].shape[1], Tensor)
        masked = first(obj(q, k, v, mask))
        changed = first(obj(q, Tensor(a["k2"].astype(F32)), Tensor(a["v2"].astype(F32)), mask))
        return {"out": first(obj(q, k, v)), "masked": masked, "masked_changed": changed}
    if name == "MultiHeadAttention":
        d = a["x"].shape[-1]
        attention = obj(d, int(a["heads"]))
        mask = causal_mask(a["x"].shape[1], Tensor)
        return {"masked": attention(Tensor(a["x"].astype(F32)), mask),
                "masked_changed": attention(Tensor(a["x2"].astype(F32)), mask)}
    if name == "LayerNorm":
        norm = obj(a["x"].shape[-1])
        params = norm.parameters()
        set_param(params[0], a["gamma"])
        set_param(params[1], a["beta"])
        x = leaf(Tensor, a["x"])
        y = norm(x)
        weighted_backward(Tensor, y, a["g"])
        return {"out": y, **grads(x=x)}
    if name == "Embedding":
        vocab, d = a["w"].shape
        emb = obj(vocab, d)
        set_param(emb.weight, a["w"])
        y = emb(Tensor(np.asarray(a["ids"])))
        weighted_backward(Tensor, y, a["g"])
        return {"out": y, **grads(w=emb.weight)}
    raise ValueError(f"no probe for {name}")


def message(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-8")[:600], dtype=np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--components", required=True, help="comma-separated component names")
    args = parser.parse_args()
    import tinytorch  # noqa: F401  (the 2025 course installs autograd when the package is imported)
    try:
        importlib.import_module("tinytorch.core.autograd")  # the 2026 course attaches backward here
    except ImportError:
        pass
    from tinytorch.core.tensor import Tensor

    given = evidence.inputs()
    np.random.seed(0)
    for name in [n for n in args.components.split(",") if n in WHERE]:
        prefix = f"diag.{name}."
        try:
            obj, module = find(name)
        except (LookupError, ImportError) as exc:
            evidence.record(prefix + "status", np.array(ABSENT))
            evidence.record(prefix + "error", message(str(exc)))
            print(f"{name}: not in the package ({exc})")
            continue
        evidence.record(prefix + "module", message(module))
        try:
            arrays = probe(name, obj, Tensor, inputs_for(name, given))
        except Exception as exc:  # the student's component raised: that is the finding
            evidence.record(prefix + "status", np.array(RAISED))
            evidence.record(prefix + "error", message(f"{type(exc).__name__}: {exc}"[:300]))
            print(f"{name}: raised\n{traceback.format_exc(limit=3)}")
            continue
        for key, value in arrays.items():
            if value is not None:
                evidence.record(prefix + key, np.asarray(to_numpy(value), dtype=np.float64))
        evidence.record(prefix + "status", np.array(RAN))
        print(f"{name}: probed ({', '.join(k for k, v in arrays.items() if v is not None)})")


if __name__ == "__main__":
    main()
