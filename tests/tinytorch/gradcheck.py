"""Finite-difference gradient checker for tinytorch ops, reusable by every engineer.

Usage::

    from tests.tinytorch.gradcheck import gradcheck
    gradcheck(lambda a, b: (a @ b).sum(), [np_a, np_b])   # or any fn returning a Tensor

``fn`` receives Tensors with requires_grad=True and may return a Tensor of any shape: it is
reduced against a fixed random projection, so every output element is checked. The numeric
gradient uses central differences on float64 copies of the inputs, summed in float64 (the
forward itself runs in float32, as every tinytorch op does, hence eps=1e-2 and float32-sized
tolerances); the analytic one comes from tinytorch's backward.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from tinytorch.core.tensor import Tensor


def _forward_with_grad(fn, arrays: Sequence[np.ndarray]):
    tensors = [Tensor(a.astype(np.float32), requires_grad=True) for a in arrays]
    out = fn(*tensors)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")
    return tensors, out


def numeric_grad(fn: Callable, arrays: Sequence[np.ndarray], projection: np.ndarray, index: int,
                 eps: float) -> np.ndarray:
    """Central-difference gradient of sum(fn(*arrays) * projection) w.r.t. arrays[index]."""
    base = [np.array(a, dtype=np.float64) for a in arrays]
    grad = np.zeros_like(base[index])
    flat = base[index].reshape(-1)
    grad_flat = grad.reshape(-1)
    for k in range(flat.size):
        original = flat[k]
        values = []
        for delta in (eps, -eps):
            flat[k] = original + delta
            tensors = [Tensor(a, requires_grad=False) for a in base]
            values.append(float(np.sum(fn(*tensors).data.astype(np.float64) * projection)))
        flat[k] = original
        grad_flat[k] = (values[0] - values[1]) / (2 * eps)
    return grad


def gradcheck(fn: Callable[..., Tensor], inputs: Sequence[np.ndarray], *, eps: float = 1e-2,
              rtol: float = 2e-2, atol: float = 2e-3, check: Sequence[int] | None = None,
              seed: int = 0) -> None:
    """Assert that tinytorch's backward of ``fn`` matches finite differences for each input.

    Tolerances suit float32 forward passes: the error is ``|analytic - numeric|`` and must stay
    below ``atol + rtol * max|numeric|`` for every element. ``check`` selects input indices
    (default: all). Raises AssertionError naming the input, the worst element and both values.
    """
    arrays = [np.asarray(a, dtype=np.float64) for a in inputs]
    tensors, out = _forward_with_grad(fn, arrays)
    projection = np.random.default_rng(seed).normal(size=out.shape)
    out.backward(projection.astype(np.float32))
    for i in range(len(arrays)) if check is None else check:
        analytic = tensors[i].grad
        numeric = numeric_grad(fn, arrays, projection, i, eps)
        if analytic is None:
            if np.allclose(numeric, 0, atol=atol):
                continue
            raise AssertionError(
                f"gradcheck: input {i} got no gradient, numeric max {np.abs(numeric).max():.4g}"
            )
        analytic = np.asarray(analytic, dtype=np.float64)
        if analytic.shape != numeric.shape:
            raise AssertionError(
                f"gradcheck: input {i} grad shape {analytic.shape} != input shape {numeric.shape}"
            )
        error = np.abs(analytic - numeric)
        bound = atol + rtol * max(np.abs(numeric).max(), 1e-12)
        worst = np.unravel_index(np.argmax(error), error.shape) if error.size else ()
        if error.size and error[worst] > bound:
            raise AssertionError(
                f"gradcheck: input {i} (shape {numeric.shape}) element {tuple(int(w) for w in worst)}: "
                f"analytic {analytic[worst]:.6g} vs numeric {numeric[worst]:.6g} "
                f"(|diff| {error[worst]:.3g} > {bound:.3g})"
            )
