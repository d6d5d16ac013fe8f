"""Numerics probes: a student's layers on fixed inputs against the numpy references.

The tinytorch classes are passed in (this package never imports the student's code). Each probe
returns ``(forward_error, backward_error)``: relative errors of outputs and of parameter gradients.
"""

from __future__ import annotations

import numpy as np

from . import metrics
from . import numpy_ref as ref
from .common import grad_of as _grad
from .common import to_numpy

_F32 = np.float32


def report(errors: tuple[float, float], what: str = "") -> tuple[float, float]:
    """Report a probe's ``(forward_error, backward_error)`` as ``forward_max_error`` and
    ``backward_max_error``, and print them; ``what`` names the layers probed."""
    forward_error, backward_error = errors
    metrics.report("forward_max_error", forward_error)
    metrics.report("backward_max_error", backward_error)
    print(f"Numerics vs numpy on fixed inputs{f' ({what})' if what else ''}: forward error "
          f"{forward_error:.2e}, gradient error {backward_error:.2e}")
    return errors


def set_param(param, value: np.ndarray) -> None:
    """Overwrite a parameter's values in place (keeps the student's Tensor object) and mark it as
    trainable, as the course's optimizers do: in the 2026 course a ``Linear`` creates its weights
    without ``requires_grad`` and the optimizer sets it, and these probes use no optimizer."""
    to_numpy(param)[...] = value.astype(_F32)
    param.requires_grad = True


def _fixed(shape, low=-1.0, high=1.0, seed=0):
    return np.random.RandomState(seed).uniform(low, high, shape).astype(_F32).astype(np.float64)


def linear_sigmoid_bce(Tensor, Linear, Sigmoid, BinaryCrossEntropyLoss) -> tuple[float, float]:
    """Linear(3,2) + Sigmoid + mean BCE on fixed inputs."""
    x, w, b = _fixed((5, 3), seed=1), _fixed((3, 2), seed=2), _fixed((2,), seed=3)
    t = (np.random.RandomState(4).rand(5, 2) > 0.5).astype(np.float64)
    layer = Linear(3, 2)
    set_param(layer.weight, w)
    set_param(layer.bias, b)
    prob = Sigmoid()(layer(Tensor(x.astype(_F32))))
    loss = BinaryCrossEntropyLoss()(prob, Tensor(t.astype(_F32)))
    p = ref.sigmoid(ref.linear(x, w, b))
    forward = max(ref.relative_error(to_numpy(prob), p), ref.relative_error(to_numpy(loss), ref.bce(p, t)))
    loss.backward()
    dz = (p - t) / p.size  # d mean-BCE / d pre-activation
    backward = max(ref.relative_error(_grad(layer.weight), x.T @ dz),
                   ref.relative_error(_grad(layer.bias), dz.sum(axis=0)))
    return forward, backward


def mlp_cross_entropy(Tensor, Linear, ReLU, CrossEntropyLoss) -> tuple[float, float]:
    """Linear(5,4) + ReLU + Linear(4,3) + mean cross-entropy on fixed inputs."""
    x = _fixed((6, 5), seed=11)
    w1, b1 = _fixed((5, 4), seed=12), _fixed((4,), seed=13)
    w2, b2 = _fixed((4, 3), seed=14), _fixed((3,), seed=15)
    ids = np.array([0, 2, 1, 2, 0, 1])
    fc1, fc2 = Linear(5, 4), Linear(4, 3)
    for param, value in ((fc1.weight, w1), (fc1.bias, b1), (fc2.weight, w2), (fc2.bias, b2)):
        set_param(param, value)
    logits = fc2(ReLU()(fc1(Tensor(x.astype(_F32)))))
    loss = CrossEntropyLoss()(logits, Tensor(ids))
    h_pre = ref.linear(x, w1, b1)
    h = np.maximum(h_pre, 0)
    z = ref.linear(h, w2, b2)
    forward = max(ref.relative_error(to_numpy(logits), z),
                  ref.relative_error(to_numpy(loss), ref.cross_entropy(z, ids)))
    loss.backward()
    dz = ref.cross_entropy_grad(z, ids)
    dh = (dz @ w2.T) * (h_pre > 0)
    backward = max(ref.relative_error(_grad(fc2.weight), h.T @ dz),
                   ref.relative_error(_grad(fc2.bias), dz.sum(0)),
                   ref.relative_error(_grad(fc1.weight), x.T @ dh),
                   ref.relative_error(_grad(fc1.bias), dh.sum(0)))
    return forward, backward


def conv_pool_cross_entropy(Tensor, Conv2d, MaxPool2d, ReLU, Linear, CrossEntropyLoss) -> tuple[float, float]:
    """Conv2d(2,3,3) + ReLU + MaxPool2d(2) + Linear(12,4) + mean cross-entropy on fixed 6x6 images."""
    x = _fixed((2, 2, 6, 6), seed=21)
    wc, bc = _fixed((3, 2, 3, 3), seed=22), _fixed((3,), seed=23)
    wf, bf = _fixed((12, 4), seed=24), _fixed((4,), seed=25)
    ids = np.array([3, 1])
    conv, pool, fc = Conv2d(2, 3, 3), MaxPool2d(2), Linear(12, 4)
    for param, value in ((conv.weight, wc), (conv.bias, bc), (fc.weight, wf), (fc.bias, bf)):
        set_param(param, value)
    conv_out = conv(Tensor(x.astype(_F32)))
    pooled = pool(ReLU()(conv_out))
    logits = fc(pooled.reshape(2, 12))
    loss = CrossEntropyLoss()(logits, Tensor(ids))

    c = ref.conv2d(x, wc, bc)  # (2,3,4,4)
    r = np.maximum(c, 0)
    m = ref.maxpool2d(r, 2)  # (2,3,2,2)
    z = ref.linear(m.reshape(2, 12), wf, bf)
    forward = max(ref.relative_error(to_numpy(conv_out), c), ref.relative_error(to_numpy(pooled), m),
                  ref.relative_error(to_numpy(loss), ref.cross_entropy(z, ids)))
    loss.backward()
    dz = ref.cross_entropy_grad(z, ids)
    dm = (dz @ wf.T).reshape(m.shape)
    windows = r.reshape(2, 3, 2, 2, 2, 2)  # (n, c, ho, kh, wo, kw)
    is_max = windows == m[:, :, :, None, :, None]
    dr = (is_max * dm[:, :, :, None, :, None]).reshape(r.shape)
    dc = dr * (c > 0)
    backward = max(ref.relative_error(_grad(fc.weight), m.reshape(2, 12).T @ dz),
                   ref.relative_error(_grad(conv.weight), ref.conv2d_weight_grad(x, dc, (3, 3))),
                   ref.relative_error(_grad(conv.bias), dc.sum(axis=(0, 2, 3))))
    return forward, backward
