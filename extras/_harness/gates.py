"""Training-health bookkeeping shared by the extras, in numpy on ``.data`` (never through autograd).

Each function reports metrics that the criteria turn into gates: the loss went down, every
layer's weights moved, and a gradient reached the first layer.
"""

from __future__ import annotations

import time

import numpy as np

from . import metrics
from .common import grad_of, to_numpy


def snapshot(weights: dict) -> dict[str, np.ndarray]:
    """Copies of each named parameter's values, to measure later how far training moved them."""
    return {name: to_numpy(p).astype(np.float64, copy=True) for name, p in weights.items()}


def grad_norm(param) -> float:
    """L2 norm of ``param.grad``; 0.0 when no gradient arrived (None), inf when it is not finite."""
    grad = grad_of(param)
    if grad is None:
        return 0.0
    value = float(np.linalg.norm(grad.astype(np.float64)))
    return value if np.isfinite(value) else float("inf")


def report_first_layer_grad(name: str, param) -> float:
    """After the first backward: does the loss reach the first layer? (``first_layer_grad_norm``)."""
    norm = grad_norm(param)
    grad = grad_of(param)
    if grad is None:
        note = (f"`{name}.grad` is None after `loss.backward()`: is `requires_grad` set on the parameters "
                "before the optimizer sees them, and is the loss computed from the model's output?")
    elif norm == float("inf"):
        bad = int(np.sum(~np.isfinite(np.asarray(grad, dtype=np.float64))))
        note = (f"`{name}.grad` holds {bad} NaN/inf values of {np.size(grad)} after the first "
                "`loss.backward()`")
    else:
        note = None
    metrics.report("first_layer_grad_norm", norm, note=note)
    if norm == 0.0:
        print(f"  !! no gradient reached {name}: the loss is not connected to the model "
              "(was it computed outside the autograd graph?)")
    return norm


def report_weight_changes(before: dict[str, np.ndarray], weights: dict) -> dict[str, float]:
    """Relative change ||after - before|| / ||before|| per layer (``weight_change_<name>``) and the min."""
    changes: dict[str, float] = {}
    notes: dict[str, str | None] = {}
    for name, p in weights.items():
        start = before[name]
        delta = np.linalg.norm(to_numpy(p).astype(np.float64) - start)
        change = float(delta / max(np.linalg.norm(start), 1e-12))
        changes[name] = change if np.isfinite(change) else float("inf")
        notes[name] = None if np.isfinite(change) else (
            f"`{name}` holds {int(np.sum(~np.isfinite(to_numpy(p))))} NaN/inf values after training "
            "(training diverged: a learning rate too large, or a backward that overflows?)")
        metrics.report(f"weight_change_{name}", changes[name], note=notes[name])
    smallest = min(changes, key=changes.get)
    frozen = f"least moved: `{smallest}` (frozen, or missing from the optimizer?)" \
        if changes[smallest] < 1e-3 else None
    metrics.report("min_weight_change", changes[smallest], note=notes[smallest] or frozen)
    print("  relative weight change per layer: "
          + ", ".join(f"{name} {value:.3g}" for name, value in changes.items()))
    if changes[smallest] < 1e-3:
        print(f"  !! {smallest} barely moved: is it frozen, or missing from the optimizer's parameters?")
    return changes


def report_loss_trend(losses: list[float]) -> float:
    """``loss_ratio``: mean of the last tenth of the losses over the mean of the first tenth."""
    values = np.asarray(losses, dtype=np.float64)
    window = max(1, len(values) // 10)
    first, last = float(values[:window].mean()), float(values[-window:].mean())
    ratio = last / first if first > 0 else float("inf")
    ratio = ratio if np.isfinite(ratio) else float("inf")
    note = None
    if not np.isfinite(ratio):
        bad = np.flatnonzero(~np.isfinite(values))
        note = (f"the loss became {values[bad[0]]} at step {bad[0] + 1} of {len(values)} (training diverged: "
                "a learning rate too large, or a log of 0 in the loss?)" if bad.size else
                f"the mean loss over the first steps was {first:.4g}, so no ratio can be taken")
    metrics.report("loss_ratio", ratio, note=note)
    print(f"  loss went from {first:.4f} to {last:.4f} (ratio {ratio:.3f})")
    return ratio


def scalar(x) -> float:
    """A loss Tensor (0-d or one element) as a Python float."""
    return float(np.asarray(to_numpy(x), dtype=np.float64).reshape(-1)[0])


def accuracy(predictions: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(np.asarray(predictions).reshape(-1) == np.asarray(labels).reshape(-1)))


def train_epochs(model, loss_fn, optimizer, tensor_cls, x: np.ndarray, y: np.ndarray, *, epochs: int,
                 batch: int, rng, weights: dict, first_layer: str, prepare=None,
                 log_every: int | None = None) -> list[float]:
    """Mini-batch training of a classifier with every training-health gate reported.

    Each epoch visits ``x`` in the order ``rng.permutation``; ``prepare`` (optional) turns a batch
    of raw inputs into model inputs. Reports ``first_layer_grad_norm`` (the gradient of
    ``weights[first_layer]`` after the first backward), ``train_seconds``, the ``train_loss``
    series (one mean per epoch), ``loss_ratio`` and the per-layer weight changes. Returns the loss
    of every step.
    """
    before = snapshot(weights)
    start, losses, epoch_losses = time.perf_counter(), [], []
    for epoch in range(epochs):
        order = rng.permutation(len(x))
        for i in range(0, len(order), batch):
            idx = order[i:i + batch]
            inputs = x[idx] if prepare is None else prepare(x[idx])
            loss = loss_fn(model(tensor_cls(inputs)), tensor_cls(y[idx]))
            optimizer.zero_grad()
            loss.backward()
            if not losses:
                report_first_layer_grad(f"{first_layer}.weight", weights[first_layer])
            optimizer.step()
            losses.append(scalar(loss))
            if log_every and len(losses) % log_every == 0:
                print(f"    step {len(losses)}: loss {np.mean(losses[-log_every:]):.4f} "
                      f"({time.perf_counter() - start:.0f} s)")
        steps = -(-len(order) // batch)
        epoch_losses.append(float(np.mean(losses[-steps:])))
        print(f"  epoch {epoch + 1}/{epochs}: loss {epoch_losses[-1]:.4f} "
              f"({time.perf_counter() - start:.0f} s)")
    metrics.report("train_seconds", time.perf_counter() - start)
    metrics.series("train_loss", epoch_losses)
    report_loss_trend(losses)
    report_weight_changes(before, weights)
    return losses
