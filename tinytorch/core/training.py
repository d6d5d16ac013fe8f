"""Training helpers as the course defines them: Trainer (epochs, evaluation, checkpoints),
CosineSchedule and clip_grad_norm."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from tinytorch.core.autograd import no_grad
from tinytorch.core.layers import Linear  # noqa: F401 (names the course's module imports)
from tinytorch.core.losses import CrossEntropyLoss, MSELoss  # noqa: F401
from tinytorch.core.optimizers import SGD, AdamW  # noqa: F401
from tinytorch.core.tensor import Tensor  # noqa: F401

DEFAULT_MAX_LR = 0.1
DEFAULT_MIN_LR = 0.01
DEFAULT_TOTAL_EPOCHS = 100


class CosineSchedule:
    """``get_lr(epoch)``: cosine from ``max_lr`` at epoch 0 to ``min_lr`` at ``total_epochs`` and after."""

    def __init__(self, max_lr=DEFAULT_MAX_LR, min_lr=DEFAULT_MIN_LR, total_epochs=DEFAULT_TOTAL_EPOCHS):
        self.max_lr = max_lr
        self.min_lr = min_lr
        self.total_epochs = total_epochs

    def get_lr(self, epoch) -> float:
        if epoch >= self.total_epochs:
            return self.min_lr
        cosine_factor = (1 + np.cos(np.pi * epoch / self.total_epochs)) / 2
        return self.min_lr + (self.max_lr - self.min_lr) * cosine_factor


def clip_grad_norm(parameters, max_norm=1.0) -> float:
    """Scale all gradients so their global L2 norm is at most ``max_norm``; return the norm before."""
    grads = [p.grad for p in parameters if p.grad is not None]
    total_norm = float(np.sqrt(sum(float(np.sum(np.square(g, dtype=np.float64))) for g in grads)))
    if total_norm > max_norm:
        clip_coef = np.float32(max_norm / total_norm)
        for param in parameters:
            if param.grad is not None:
                param.grad = param.grad * clip_coef
    return total_norm


class Trainer:
    """The course's training loop.

    ``train_epoch(dataloader, accumulation_steps=1)``: forward, loss, backward on every batch, an
    optimizer step (after optional clipping) every ``accumulation_steps`` batches and at the end;
    returns the mean loss. With a scheduler, ``optimizer.lr = scheduler.get_lr(epoch)`` is set
    AFTER the epoch (so the first epoch runs at the optimizer's own lr). ``evaluate(dataloader)``
    returns (mean loss, accuracy) with argmax accuracy for 2-D outputs (0.0 otherwise).
    """

    def __init__(self, model, optimizer, loss_fn, scheduler=None, grad_clip_norm=None):
        self.model = model
        self.optimizer = optimizer
        self.loss_fn = loss_fn
        self.scheduler = scheduler
        self.grad_clip_norm = grad_clip_norm
        self.epoch = 0
        self.step = 0
        self.training_mode = True
        self.history = {"train_loss": [], "eval_loss": [], "learning_rates": []}

    def _optimizer_step(self) -> None:
        if self.grad_clip_norm is not None:
            clip_grad_norm(self.model.parameters(), self.grad_clip_norm)
        self.optimizer.step()
        self.optimizer.zero_grad()

    def train_epoch(self, dataloader, accumulation_steps=1):
        self.model.training = True
        self.training_mode = True
        total_loss, num_steps, accumulated = 0.0, 0, 0.0
        for batch_idx, (inputs, targets) in enumerate(dataloader):
            loss = self.loss_fn.forward(self.model.forward(inputs), targets)
            accumulated += float(loss.data) / accumulation_steps
            loss.backward()
            if (batch_idx + 1) % accumulation_steps == 0:
                self._optimizer_step()
                total_loss, accumulated, num_steps = total_loss + accumulated, 0.0, num_steps + 1
                self.step += 1
        if accumulated > 0:
            self._optimizer_step()
            total_loss, num_steps = total_loss + accumulated, num_steps + 1
        avg_loss = total_loss / max(num_steps, 1)
        self.history["train_loss"].append(avg_loss)
        if self.scheduler is not None:
            current_lr = self.scheduler.get_lr(self.epoch)
            self.optimizer.lr = current_lr
            self.history["learning_rates"].append(current_lr)
        self.epoch += 1
        return avg_loss

    def evaluate(self, dataloader):
        self.model.training = False
        self.training_mode = False
        total_loss, correct, total = 0.0, 0, 0
        with no_grad():
            for inputs, targets in dataloader:
                outputs = self.model.forward(inputs)
                total_loss += float(self.loss_fn.forward(outputs, targets).data)
                if outputs.data.ndim > 1:
                    predictions = np.argmax(outputs.data, axis=1)
                    labels = targets.data if targets.data.ndim == 1 else np.argmax(targets.data, axis=1)
                    correct += int(np.sum(predictions == labels))
                    total += len(predictions)
        avg_loss = total_loss / len(dataloader) if len(dataloader) > 0 else 0.0
        accuracy = correct / total if total > 0 else 0.0
        self.history["eval_loss"].append(avg_loss)
        return avg_loss, accuracy

    def save_checkpoint(self, path):
        """Pickle epoch, step, parameters, optimizer lr/momentum, scheduler settings and history."""
        checkpoint = {
            "epoch": self.epoch,
            "step": self.step,
            "model_state": {i: p.data.copy() for i, p in enumerate(self.model.parameters())},
            "optimizer_state": self._optimizer_state(),
            "scheduler_state": None if self.scheduler is None else {
                key: getattr(self.scheduler, key, None) for key in ("max_lr", "min_lr", "total_epochs")},
            "history": self.history,
            "training_mode": self.training_mode,
        }
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as f:
            pickle.dump(checkpoint, f)

    def load_checkpoint(self, path):
        """Restore what ``save_checkpoint`` wrote (parameters in ``model.parameters()`` order)."""
        with open(path, "rb") as f:
            checkpoint = pickle.load(f)
        self.epoch, self.step = checkpoint["epoch"], checkpoint["step"]
        self.history, self.training_mode = checkpoint["history"], checkpoint["training_mode"]
        model_state = checkpoint.get("model_state", {})
        for i, param in enumerate(self.model.parameters()):
            if i in model_state:
                param.data = model_state[i].copy()
        optimizer_state = checkpoint.get("optimizer_state", {})
        if "lr" in optimizer_state:
            self.optimizer.lr = optimizer_state["lr"]
        if "momentum_buffers" in optimizer_state and self._has_momentum():
            self.optimizer.set_momentum_state(optimizer_state["momentum_buffers"])
        scheduler_state = checkpoint.get("scheduler_state")
        if scheduler_state is not None and self.scheduler is not None:
            for key, value in scheduler_state.items():
                if hasattr(self.scheduler, key):
                    setattr(self.scheduler, key, value)

    def _has_momentum(self) -> bool:
        return hasattr(self.optimizer, "has_momentum") and self.optimizer.has_momentum()

    def _optimizer_state(self) -> dict:
        state = {"lr": self.optimizer.lr}
        if self._has_momentum():
            momentum_state = self.optimizer.get_momentum_state()
            if momentum_state is not None:
                state["momentum_buffers"] = momentum_state
        return state
