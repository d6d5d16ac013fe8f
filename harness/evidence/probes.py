"""Numerics probes on the host: draw secret inputs, then score what the student's layers returned.

Each probe has a ``draw(rng)`` (its inputs, with sizes drawn too, so nothing can be precomputed)
and a ``score(inputs, evidence)`` giving ``forward_max_error`` and ``backward_max_error``: the worst
relative error of the recorded outputs and gradients against the float64 numpy reference. A
missing or misshaped array is an error of ``inf`` with a reason naming it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import numpy_ref as ref

Arrays = dict[str, np.ndarray]


@dataclass(frozen=True)
class ProbeScore:
    forward_max_error: float
    backward_max_error: float
    forward_reason: str | None  # why the forward error is what it is, when it is not a plain number
    backward_reason: str | None


def _uniform(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.uniform(-1.0, 1.0, shape).astype(np.float32)


def _worst(evidence: Arrays, expected: dict[str, np.ndarray], what: str) -> tuple[float, str | None]:
    """Worst relative error over ``expected`` (name -> reference array), and the reason for it."""
    worst, reason = 0.0, None
    for name, reference in expected.items():
        key = f"probe.{name}"
        actual = evidence.get(key)
        if actual is None:
            missing = (f"no gradient for `{name}`: its `.grad` was None after `loss.backward()` (is "
                       "`requires_grad` set, and is the loss connected to it?)" if name.startswith("grad.")
                       else f"the probe recorded no `{name}` (the script stopped before it)")
            return float("inf"), missing
        actual = np.asarray(actual, dtype=np.float64)
        if actual.size == reference.size and actual.shape != reference.shape:
            actual = actual.reshape(reference.shape)  # e.g. a loss as (1,) instead of ()
        error = ref.relative_error(actual, reference)
        if actual.shape != reference.shape:
            reason = f"`{name}` has shape {actual.shape}, expected {reference.shape}"
        elif not np.all(np.isfinite(actual)):
            bad = int(np.sum(~np.isfinite(actual)))
            after = "after `loss.backward()`" if name.startswith("grad.") else "in the forward pass"
            reason = (f"`{name}` holds {bad} NaN/inf value{'s' if bad != 1 else ''} of {actual.size} "
                      f"{after} on the grader's finite inputs (a log of 0, a division by 0 or an "
                      "overflowing exp in it or below it?)")
        elif error > worst:
            reason = f"worst {what}: `{name}` (relative error {error:.2e})"
        worst = max(worst, error)
        if not np.isfinite(worst):
            return worst, reason
    return worst, reason


def _score(evidence: Arrays, forward: dict, backward: dict) -> ProbeScore:
    f_err, f_why = _worst(evidence, forward, "output")
    b_err, b_why = _worst(evidence, backward, "gradient")
    return ProbeScore(f_err, b_err, f_why, b_why)


# --- Linear + Sigmoid + BCE --------------------------------------------------------------------

def draw_linear_sigmoid_bce(rng: np.random.Generator) -> Arrays:
    n, i, o = (int(v) for v in rng.integers([4, 2, 1], [9, 6, 4]))
    return {"x": _uniform(rng, n, i), "w": _uniform(rng, i, o), "b": _uniform(rng, o),
            "t": (rng.random((n, o)) > 0.5).astype(np.float32)}


def score_linear_sigmoid_bce(a: Arrays, evidence: Arrays) -> ProbeScore:
    x, w, b, t = (a[k].astype(np.float64) for k in ("x", "w", "b", "t"))
    p = ref.sigmoid(ref.linear(x, w, b))
    dz = (p - t) / p.size
    return _score(evidence, {"prob": p, "loss": np.array(ref.bce(p, t))},
                  {"grad.w": x.T @ dz, "grad.b": dz.sum(axis=0)})


# --- Linear + ReLU + Linear + cross-entropy ----------------------------------------------------

def draw_mlp_cross_entropy(rng: np.random.Generator) -> Arrays:
    n, i, h, k = (int(v) for v in rng.integers([5, 3, 3, 2], [10, 8, 8, 6]))
    return {"x": _uniform(rng, n, i), "w1": _uniform(rng, i, h), "b1": _uniform(rng, h),
            "w2": _uniform(rng, h, k), "b2": _uniform(rng, k), "ids": rng.integers(0, k, n)}


def score_mlp_cross_entropy(a: Arrays, evidence: Arrays) -> ProbeScore:
    x, w1, b1, w2, b2 = (a[k].astype(np.float64) for k in ("x", "w1", "b1", "w2", "b2"))
    ids = a["ids"]
    h_pre = ref.linear(x, w1, b1)
    h = np.maximum(h_pre, 0)
    z = ref.linear(h, w2, b2)
    dz = ref.cross_entropy_grad(z, ids)
    dh = (dz @ w2.T) * (h_pre > 0)
    return _score(evidence, {"logits": z, "loss": np.array(ref.cross_entropy(z, ids))},
                  {"grad.w1": x.T @ dh, "grad.b1": dh.sum(0), "grad.w2": h.T @ dz, "grad.b2": dz.sum(0)})


# --- Linear + Tanh + Linear + Sigmoid + BCE (the XOR network) ---------------------------------

def draw_mlp_tanh_bce(rng: np.random.Generator) -> Arrays:
    n, i, h = (int(v) for v in rng.integers([4, 2, 3], [9, 5, 9]))
    return {"x": _uniform(rng, n, i), "w1": _uniform(rng, i, h), "b1": _uniform(rng, h),
            "w2": _uniform(rng, h, 1), "b2": _uniform(rng, 1),
            "t": (rng.random((n, 1)) > 0.5).astype(np.float32)}


def score_mlp_tanh_bce(a: Arrays, evidence: Arrays) -> ProbeScore:
    x, w1, b1, w2, b2, t = (a[k].astype(np.float64) for k in ("x", "w1", "b1", "w2", "b2", "t"))
    h = np.tanh(ref.linear(x, w1, b1))
    p = ref.sigmoid(ref.linear(h, w2, b2))
    dz = (p - t) / p.size
    dpre = (dz @ w2.T) * (1 - h * h)
    return _score(evidence, {"hidden": h, "prob": p, "loss": np.array(ref.bce(p, t))},
                  {"grad.w1": x.T @ dpre, "grad.b1": dpre.sum(0), "grad.w2": h.T @ dz, "grad.b2": dz.sum(0)})


# --- Conv2d + ReLU + MaxPool2d + Linear + cross-entropy ----------------------------------------

def draw_conv_pool_cross_entropy(rng: np.random.Generator) -> Arrays:
    n, c, o, k = (int(v) for v in rng.integers([2, 1, 2, 4], [4, 4, 5, 7]))
    kernel = 3
    side = 2 * int(rng.integers(2, 4)) + kernel - 1  # conv output even: 4 or 6
    pooled = o * ((side - kernel + 1) // 2) ** 2
    return {"x": _uniform(rng, n, c, side, side), "wc": _uniform(rng, o, c, kernel, kernel),
            "bc": _uniform(rng, o), "wf": _uniform(rng, pooled, k), "bf": _uniform(rng, k),
            "ids": rng.integers(0, k, n)}


def score_conv_pool_cross_entropy(a: Arrays, evidence: Arrays) -> ProbeScore:
    x, wc, bc, wf, bf = (a[k].astype(np.float64) for k in ("x", "wc", "bc", "wf", "bf"))
    ids, n = a["ids"], a["x"].shape[0]
    c = ref.conv2d(x, wc, bc)
    r = np.maximum(c, 0)
    m = ref.maxpool2d(r, 2)
    z = ref.linear(m.reshape(n, -1), wf, bf)
    dz = ref.cross_entropy_grad(z, ids)
    dm = (dz @ wf.T).reshape(m.shape)
    dc = ref.maxpool2d_grad(r, 2, dm) * (c > 0)
    return _score(evidence, {"conv": c, "pooled": m, "loss": np.array(ref.cross_entropy(z, ids))},
                  {"grad.wc": ref.conv2d_weight_grad(x, dc, wc.shape[2:]), "grad.bc": dc.sum(axis=(0, 2, 3)),
                   "grad.wf": m.reshape(n, -1).T @ dz, "grad.bf": dz.sum(0)})


@dataclass(frozen=True)
class Probe:
    draw: Callable[[np.random.Generator], Arrays]
    score: Callable[[Arrays, Arrays], ProbeScore]


PROBES = {
    "linear_sigmoid_bce": Probe(draw_linear_sigmoid_bce, score_linear_sigmoid_bce),
    "mlp_cross_entropy": Probe(draw_mlp_cross_entropy, score_mlp_cross_entropy),
    "mlp_tanh_bce": Probe(draw_mlp_tanh_bce, score_mlp_tanh_bce),
    "conv_pool_cross_entropy": Probe(draw_conv_pool_cross_entropy, score_conv_pool_cross_entropy),
}
