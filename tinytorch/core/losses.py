"""Loss functions: MSELoss, CrossEntropyLoss (on logits), BinaryCrossEntropyLoss (on probabilities)."""

from __future__ import annotations

import numpy as np

from tinytorch.core.tensor import FLOAT, Tensor

BCE_EPS = 1e-7


def log_softmax(x: Tensor, dim: int = -1) -> Tensor:
    """log(softmax(x)) computed as x - max - log(sum(exp(x - max))): stable for huge logits."""
    shifted = x.data - x.data.max(axis=dim, keepdims=True)
    data = shifted - np.log(np.exp(shifted).sum(axis=dim, keepdims=True))

    def backward(g):
        return (g - np.exp(data) * g.sum(axis=dim, keepdims=True),)

    return Tensor._from_op(data, (x,), backward, "log_softmax")


def _values(x, who: str) -> np.ndarray:
    if isinstance(x, Tensor):
        return x.data
    try:
        return np.asarray(x)
    except Exception as exc:  # noqa: BLE001 - re-raised with context
        raise TypeError(f"{who}: expected a Tensor or array, got {type(x).__name__}") from exc


def _class_ids(targets, logits_shape: tuple[int, ...]) -> np.ndarray:
    """Validate integer class targets for logits of shape (..., C) and return them as int64."""
    t = _values(targets, "CrossEntropyLoss targets")
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


class CrossEntropyLoss:
    """Mean negative log-likelihood of integer ``targets`` under softmax(``logits``) over the last axis."""

    def __call__(self, logits: Tensor, targets) -> Tensor:
        return self.forward(logits, targets)

    def forward(self, logits: Tensor, targets) -> Tensor:
        if logits.ndim < 1:
            raise ValueError(f"CrossEntropyLoss: logits need a class dimension, got shape {logits.shape}")
        ids = _class_ids(targets, logits.shape)
        z = logits.data.reshape(-1, logits.shape[-1])
        flat_ids = ids.reshape(-1)
        n = z.shape[0]
        if n == 0:
            raise ValueError("CrossEntropyLoss: empty batch")
        shifted = z - z.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        rows = np.arange(n)
        loss = -log_probs[rows, flat_ids].mean(dtype=FLOAT)

        def backward(g):
            grad = np.exp(log_probs)
            grad[rows, flat_ids] -= 1
            grad *= g * FLOAT(1.0 / n)
            return (grad.reshape(logits.shape),)

        return Tensor._from_op(np.asarray(loss, dtype=FLOAT), (logits,), backward, "cross_entropy")


def _matching_target(pred: Tensor, target, who: str) -> np.ndarray:
    t = _values(target, f"{who} target")
    if t.shape != pred.shape:
        if t.size != pred.size:
            raise ValueError(f"{who}: prediction shape {pred.shape} and target shape {t.shape} differ")
        t = t.reshape(pred.shape)  # e.g. (N, 1) predictions with (N,) targets
    return t.astype(FLOAT, copy=False)


class MSELoss:
    """Mean of (pred - target)^2. Targets of another shape but equal size are reshaped to pred's."""

    def __call__(self, pred: Tensor, target) -> Tensor:
        return self.forward(pred, target)

    def forward(self, pred: Tensor, target) -> Tensor:
        t = _matching_target(pred, target, "MSELoss")
        diff = pred.data - t
        scale = FLOAT(2.0 / max(diff.size, 1))
        return Tensor._from_op(
            np.asarray(np.mean(diff * diff), dtype=FLOAT), (pred,), lambda g: (g * scale * diff,), "mse"
        )


class BinaryCrossEntropyLoss:
    """Mean binary cross-entropy of probabilities ``pred`` against 0/1 ``target``.

    ``pred`` is clamped to [eps, 1 - eps] so saturated probabilities give a finite loss; the
    gradient is evaluated at the clamped value (it stays finite and non-zero).
    """

    def __init__(self, eps: float = BCE_EPS):
        self.eps = eps

    def __call__(self, pred: Tensor, target) -> Tensor:
        return self.forward(pred, target)

    def forward(self, pred: Tensor, target) -> Tensor:
        t = _matching_target(pred, target, "BinaryCrossEntropyLoss")
        p = np.clip(pred.data, FLOAT(self.eps), FLOAT(1 - self.eps))
        losses = -(t * np.log(p) + (1 - t) * np.log1p(-p))
        scale = FLOAT(1.0 / max(p.size, 1))

        def backward(g):
            return (g * scale * (p - t) / (p * (1 - p)),)

        return Tensor._from_op(np.asarray(losses.mean(), dtype=FLOAT), (pred,), backward, "bce")


MeanSquaredError = MSELoss
