"""Training helpers: Trainer (one epoch / evaluation), CosineSchedule, clip_grad_norm."""

from __future__ import annotations

import math

import numpy as np

from tinytorch.core.autograd import no_grad
from tinytorch.core.tensor import Tensor


def clip_grad_norm(params, max_norm: float = 1.0) -> float:
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
    """The course's training loop: forward, loss, backward, (clip), step; lr from an optional schedule.

    ``train_epoch(loader)`` returns the mean loss, ``evaluate(loader)`` returns (mean loss, accuracy).
    """

    def __init__(self, model, optimizer, loss_fn, scheduler=None, grad_clip_norm: float | None = None):
        self.model, self.optimizer, self.loss_fn = model, optimizer, loss_fn
        self.scheduler, self.grad_clip_norm = scheduler, grad_clip_norm
        self.epoch = 0
        self.step = 0
        self.history: dict[str, list[float]] = {
            "train_loss": [], "train_accuracy": [], "eval_loss": [], "eval_accuracy": [], "learning_rates": []
        }

    def train_epoch(self, loader, accumulation_steps: int = 1) -> float:
        """One pass in training mode, stepping every ``accumulation_steps`` batches; the mean loss.

        With a scheduler, ``optimizer.lr = scheduler.get_lr(epoch)`` (or ``scheduler(epoch)``) is set
        before the epoch.
        """
        if accumulation_steps < 1:
            raise ValueError(f"train_epoch: accumulation_steps must be >= 1, got {accumulation_steps}")
        if self.scheduler is not None:
            self.optimizer.lr = getattr(self.scheduler, "get_lr", self.scheduler)(self.epoch)
            self.history["learning_rates"].append(self.optimizer.lr)
        _set_mode(self.model, training=True)
        totals = _Totals()
        pending = 0
        self.optimizer.zero_grad()
        for inputs, targets in loader:
            outputs = _call(self.model, inputs)
            loss = _call(self.loss_fn, outputs, targets)
            (loss * (1.0 / accumulation_steps) if accumulation_steps > 1 else loss).backward()
            totals.add(loss, outputs, targets)
            pending += 1
            if pending == accumulation_steps:
                self._update()
                pending = 0
        if pending:
            self._update()
        self.epoch += 1
        return totals.record(self.history, "train")[0]

    def _update(self) -> None:
        if self.grad_clip_norm is not None:
            clip_grad_norm(self.optimizer.params, self.grad_clip_norm)
        self.optimizer.step()
        self.optimizer.zero_grad()
        self.step += 1

    def evaluate(self, loader) -> tuple[float, float]:
        """(mean loss, accuracy) over ``loader`` in eval mode, without recording the graph."""
        _set_mode(self.model, training=False)
        totals = _Totals()
        with no_grad():
            for inputs, targets in loader:
                outputs = _call(self.model, inputs)
                totals.add(_call(self.loss_fn, outputs, targets), outputs, targets)
        return totals.record(self.history, "eval")


def _call(obj, *args):
    """``obj(*args)``, or ``obj.forward(*args)`` for course-style models that are not callable."""
    return obj(*args) if callable(obj) else obj.forward(*args)


def _set_mode(model, training: bool) -> None:
    """model.train() / model.eval() when it has them, else set its ``training`` flag if it has one."""
    method = getattr(model, "train" if training else "eval", None)
    if callable(method):
        method()
    elif hasattr(model, "training"):
        model.training = training


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

    def record(self, history: dict, prefix: str) -> tuple[float, float]:
        if self.count == 0:
            raise ValueError(f"Trainer: the {prefix} loader yielded no batches")
        loss, accuracy = self.loss / self.count, self.correct / self.count
        history[f"{prefix}_loss"].append(loss)
        history[f"{prefix}_accuracy"].append(accuracy)
        return loss, accuracy


def _count_correct(outputs: np.ndarray, targets) -> float:
    """Correct predictions: argmax for class logits (integer or one-hot targets), threshold 0.5
    for one probability column. NaN when the outputs are neither: accuracy does not apply.
    """
    targets = np.asarray(targets)
    if outputs.ndim >= 2 and outputs.shape[-1] > 1:
        if targets.shape == outputs.shape:
            targets = targets.argmax(axis=-1)
        if targets.shape == outputs.shape[:-1]:
            return float(np.sum(outputs.argmax(axis=-1) == targets))
    if outputs.size == targets.size:
        return float(np.sum((outputs.reshape(-1) > 0.5) == (targets.reshape(-1) > 0.5)))
    return float("nan")
