"""Training helpers: Trainer (one epoch / evaluation), CosineSchedule, clip_grad_norm."""

from __future__ import annotations

import math

import numpy as np

from tinytorch.core.autograd import no_grad
from tinytorch.core.tensor import Tensor


def clip_grad_norm(params, max_norm: float) -> float:
    """Scale all gradients so their global L2 norm is at most ``max_norm``; return the norm before."""
    grads = [p.grad for p in params if p.grad is not None]
    total = math.sqrt(sum(float(np.sum(np.square(g, dtype=np.float64))) for g in grads))
    if total > max_norm > 0:
        scale = np.float32(max_norm / (total + 1e-6))
        for p in params:
            if p.grad is not None:
                p.grad = p.grad * scale
    return total


class CosineSchedule:
    """Learning rate at ``epoch``: cosine from ``max_lr`` (epoch 0) to ``min_lr`` (epoch total_epochs)."""

    def __init__(self, max_lr: float = 0.1, min_lr: float = 0.0, total_epochs: int = 100):
        if total_epochs <= 0:
            raise ValueError(f"CosineSchedule: total_epochs must be positive, got {total_epochs}")
        self.max_lr, self.min_lr, self.total_epochs = max_lr, min_lr, total_epochs

    def __call__(self, epoch: int) -> float:
        progress = min(max(epoch, 0), self.total_epochs) / self.total_epochs
        return self.min_lr + 0.5 * (self.max_lr - self.min_lr) * (1 + math.cos(math.pi * progress))

    get_lr = __call__


class Trainer:
    """Run epochs of forward, loss, backward, (clip), step. Optionally set lr from a schedule."""

    def __init__(self, model, optimizer, loss_fn, scheduler=None, grad_clip_norm: float | None = None):
        self.model, self.optimizer, self.loss_fn = model, optimizer, loss_fn
        self.scheduler, self.grad_clip_norm = scheduler, grad_clip_norm
        self.epoch = 0
        self.history: dict[str, list[float]] = {"train_loss": [], "train_accuracy": [],
                                                "eval_loss": [], "eval_accuracy": []}

    def train_epoch(self, loader) -> dict[str, float]:
        """One pass over ``loader`` in training mode; returns mean loss and accuracy."""
        if self.scheduler is not None:
            self.optimizer.lr = self.scheduler(self.epoch)
        _set_mode(self.model, training=True)
        totals = _Totals()
        for inputs, targets in loader:
            outputs = self.model(inputs)
            loss = self.loss_fn(outputs, targets)
            self.optimizer.zero_grad()
            loss.backward()
            if self.grad_clip_norm is not None:
                clip_grad_norm(self.optimizer.params, self.grad_clip_norm)
            self.optimizer.step()
            totals.add(loss, outputs, targets)
        self.epoch += 1
        return totals.record(self.history, "train")

    def evaluate(self, loader) -> dict[str, float]:
        """Mean loss and accuracy over ``loader`` in eval mode, without recording the graph."""
        _set_mode(self.model, training=False)
        totals = _Totals()
        with no_grad():
            for inputs, targets in loader:
                outputs = self.model(inputs)
                totals.add(self.loss_fn(outputs, targets), outputs, targets)
        return totals.record(self.history, "eval")


def _set_mode(model, training: bool) -> None:
    """Call model.train() / model.eval() when the model has them (plain callables are fine too)."""
    method = getattr(model, "train" if training else "eval", None)
    if callable(method):
        method()


class _Totals:
    """Sample-weighted running loss and accuracy."""

    def __init__(self):
        self.loss = self.correct = 0.0
        self.count = 0

    def add(self, loss: Tensor, outputs: Tensor, targets) -> None:
        n = outputs.shape[0] if outputs.ndim else 1
        self.loss += float(loss.data) * n
        self.count += n
        self.correct += _count_correct(outputs.data, targets.data if isinstance(targets, Tensor) else targets)

    def record(self, history: dict, prefix: str) -> dict[str, float]:
        if self.count == 0:
            raise ValueError(f"Trainer: the {prefix} loader yielded no batches")
        result = {"loss": self.loss / self.count, "accuracy": self.correct / self.count}
        history[f"{prefix}_loss"].append(result["loss"])
        history[f"{prefix}_accuracy"].append(result["accuracy"])
        return result


def _count_correct(outputs: np.ndarray, targets) -> float:
    """Correct predictions: argmax for class logits, threshold 0.5 for one probability column.

    NaN when the outputs are neither (e.g. multi-output regression): accuracy does not apply.
    """
    targets = np.asarray(targets)
    if outputs.ndim >= 2 and outputs.shape[-1] > 1 and targets.shape == outputs.shape[:-1]:
        return float(np.sum(outputs.argmax(axis=-1) == targets))
    if outputs.size == targets.size:
        return float(np.sum((outputs.reshape(-1) > 0.5) == (targets.reshape(-1) > 0.5)))
    return float("nan")
