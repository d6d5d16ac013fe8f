"""Trainer, CosineSchedule and clip_grad_norm."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tinytorch.core.activations import ReLU
from tinytorch.core.dataloader import DataLoader, TensorDataset
from tinytorch.core.layers import Linear, Sequential
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.optimizers import SGD
from tinytorch.core.tensor import Tensor
from tinytorch.core.training import CosineSchedule, Trainer, clip_grad_norm


def test_cosine_schedule_endpoints_and_midpoint():
    sched = CosineSchedule(max_lr=0.1, min_lr=0.01, total_epochs=10)
    assert sched(0) == pytest.approx(0.1)
    assert sched(5) == pytest.approx(0.055)
    assert sched(10) == pytest.approx(0.01) and sched(50) == pytest.approx(0.01)
    assert sched(3) > sched(4)


def test_clip_grad_norm_scales_to_max_norm_and_returns_total():
    a = Tensor(np.zeros(2), requires_grad=True)
    b = Tensor(np.zeros(1), requires_grad=True)
    a.grad, b.grad = np.array([3.0, 0.0], dtype=np.float32), np.array([4.0], dtype=np.float32)
    total = clip_grad_norm([a, b], max_norm=1.0)
    assert total == pytest.approx(5.0)
    assert math.sqrt(np.sum(a.grad**2) + np.sum(b.grad**2)) == pytest.approx(1.0, rel=1e-5)
    np.testing.assert_allclose(a.grad, [0.6, 0.0], rtol=1e-5)
    assert clip_grad_norm([a, b], max_norm=10.0) == pytest.approx(1.0, rel=1e-5)
    np.testing.assert_allclose(a.grad, [0.6, 0.0], rtol=1e-5)  # under the limit: untouched


def make_blobs(n=200):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, size=n)
    centers = np.array([[2.0, 0.0], [-2.0, 0.0], [0.0, 2.5]])
    return (centers[y] + rng.normal(scale=0.5, size=(n, 2))).astype(np.float32), y


def test_trainer_learns_blobs_and_records_history():
    x, y = make_blobs()
    model = Sequential(Linear(2, 16), ReLU(), Linear(16, 3))
    opt = SGD(model.parameters(), lr=0.1)
    trainer = Trainer(
        model, opt, CrossEntropyLoss(), scheduler=CosineSchedule(0.1, 0.01, 5), grad_clip_norm=5.0
    )
    loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)
    before = trainer.evaluate(loader)
    for _ in range(5):
        stats = trainer.train_epoch(loader)
    after = trainer.evaluate(loader)
    assert after["loss"] < before["loss"] * 0.5 and after["accuracy"] > 0.9
    assert stats.keys() == {"loss", "accuracy"}
    assert len(trainer.history["train_loss"]) == 5 and len(trainer.history["eval_loss"]) == 2
    assert opt.lr == pytest.approx(CosineSchedule(0.1, 0.01, 5)(4))
    assert not model.training  # evaluate() left it in eval mode


def test_evaluate_does_not_record_the_graph_or_touch_grads():
    x, y = make_blobs(20)
    model = Linear(2, 3)
    trainer = Trainer(model, SGD(model.parameters(), lr=0.1), CrossEntropyLoss())
    weights = model.weight.data.copy()
    trainer.evaluate(DataLoader(TensorDataset(x, y), batch_size=8))
    assert model.weight.grad is None
    np.testing.assert_array_equal(model.weight.data, weights)
