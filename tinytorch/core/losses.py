"""Loss functions, as the course defines them: MSELoss, CrossEntropyLoss (logits), BinaryCrossEntropyLoss.

Each returns a 0-d float32 Tensor (mean over the batch) whose ``_grad_fn`` is the course's
MSEBackward / CrossEntropyBackward / BCEBackward. Targets may be Tensors or arrays.
"""

from __future__ import annotations

import numpy as np

from tinytorch.core.activations import ReLU  # noqa: F401 (names the course's module imports)
from tinytorch.core.autograd import EPSILON, BCEBackward, CrossEntropyBackward, MSEBackward
from tinytorch.core.layers import Linear  # noqa: F401
from tinytorch.core.tensor import FLOAT, Tensor, _records

__all__ = ["log_softmax", "MSELoss", "CrossEntropyLoss", "BinaryCrossEntropyLoss", "EPSILON"]


def log_softmax(x: Tensor, dim: int = -1) -> Tensor:
    """log(softmax(x)) computed as x - max - log(sum(exp(x - max))): stable for huge logits."""
    shifted = x.data - x.data.max(axis=dim, keepdims=True)
    data = shifted - np.log(np.exp(shifted).sum(axis=dim, keepdims=True))

    def backward(g):
        return (g - np.exp(data) * g.sum(axis=dim, keepdims=True),)

    return Tensor._from_op(data, (x,), backward, "log_softmax")


def _values(x) -> np.ndarray:
    return x.data if isinstance(x, Tensor) else np.asarray(x)


def _class_ids(targets, logits_shape: tuple[int, ...]) -> np.ndarray:
    """Validate integer class targets for logits of shape (..., C) and return them as int64."""
    t = _values(targets)
    if t.shape != logits_shape[:-1]:
        raise ValueError(
            f"CrossEntropyLoss: targets shape {t.shape} must equal logits shape {logits_shape} without "
            f"its last (class) dimension, i.e. {logits_shape[:-1]}; pass integer class ids, not one-hot"
        )
    if not np.issubdtype(t.dtype, np.integer):
        if not np.all(np.mod(t, 1) == 0):
            raise ValueError("CrossEntropyLoss: targets must be integer class ids, got non-integer values")
        t = t.astype(np.int64)
    num_classes = logits_shape[-1]
    if t.size and (t.min() < 0 or t.max() >= num_classes):
        raise ValueError(
            f"CrossEntropyLoss: target ids must lie in [0, {num_classes}), got min {t.min()} max {t.max()}"
        )
    return t


class _Loss:
    def backward(self):
        """Course API stub: call ``loss.backward()`` on the returned Tensor instead; returns None."""


class MSELoss(_Loss):
    """mean((predictions - targets)^2), broadcasting the two as numpy does (as the course)."""

    def __call__(self, predictions, targets) -> Tensor:
        return self.forward(predictions, targets)

    def forward(self, predictions: Tensor, targets) -> Tensor:
        diff = predictions.data - _values(targets)
        out = Tensor._wrap(np.asarray(np.mean(diff * diff), dtype=FLOAT))
        return out._attach(MSEBackward(predictions, targets)) if _records(predictions) else out


class CrossEntropyLoss(_Loss):
    """Mean negative log-likelihood of integer class ``targets`` under softmax(``logits``).

    Logits are (N, C) as in the course; (..., C) logits with (...) targets are flattened first.
    """

    def __call__(self, logits, targets) -> Tensor:
        return self.forward(logits, targets)

    def forward(self, logits: Tensor, targets) -> Tensor:
        if logits.ndim < 1:
            raise ValueError(f"CrossEntropyLoss: logits need a class dimension, got shape {logits.shape}")
        ids = _class_ids(targets, logits.shape).reshape(-1)
        if logits.ndim != 2:
            logits = logits.reshape(-1, logits.shape[-1])
        z = logits.data
        if z.shape[0] == 0:
            raise ValueError("CrossEntropyLoss: empty batch")
        shifted = z - z.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        out = Tensor._wrap(np.asarray(-log_probs[np.arange(len(ids)), ids].mean(), dtype=FLOAT))
        return out._attach(CrossEntropyBackward(logits, ids)) if _records(logits) else out


class BinaryCrossEntropyLoss(_Loss):
    """Mean binary cross-entropy of probabilities, clamped to [EPSILON, 1 - EPSILON] (1e-7)."""

    def __call__(self, predictions, targets) -> Tensor:
        return self.forward(predictions, targets)

    def forward(self, predictions: Tensor, targets) -> Tensor:
        y = _values(targets)
        p = np.clip(predictions.data, FLOAT(EPSILON), FLOAT(1 - EPSILON))
        losses = -(y * np.log(p) + (1 - y) * np.log(1 - p))
        out = Tensor._wrap(np.asarray(np.mean(losses), dtype=FLOAT))
        return out._attach(BCEBackward(predictions, targets)) if _records(predictions) else out
