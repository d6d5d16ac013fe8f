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
    sched = CosineSchedule(0.1, 0.01, 5)
    trainer = Trainer(model, opt, CrossEntropyLoss(), scheduler=sched, grad_clip_norm=5.0)
    loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)
    before_loss, before_acc = trainer.evaluate(loader)
    losses = [trainer.train_epoch(loader) for _ in range(5)]
    after_loss, after_acc = trainer.evaluate(loader)
    assert isinstance(losses[0], float) and losses[-1] < losses[0]
    assert after_loss < before_loss * 0.5 and after_acc > 0.9 > before_acc
    assert trainer.history["train_loss"] == losses and len(trainer.history["eval_loss"]) == 2
    assert trainer.history["learning_rates"] == [sched(e) for e in range(5)]
    assert trainer.epoch == 5 and trainer.step == 5 * len(loader)
    assert not model.training  # evaluate() left it in eval mode


def test_accumulation_equals_one_big_batch():
    x, y = make_blobs(16)
    results = []
    for batch_size, steps in ((16, 1), (4, 4)):
        model = Linear(2, 3)
        model.weight.data[...] = 0.1
        model.bias.data[...] = 0.0
        opt = SGD(model.parameters(), lr=0.5)
        Trainer(model, opt, CrossEntropyLoss()).train_epoch(
            DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=False), accumulation_steps=steps
        )
        results.append(model.weight.data.copy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-5, atol=1e-7)


class CourseStyleModel:
    """Not a Layer and not callable: only forward(), parameters() and a training flag."""

    def __init__(self):
        self.layer = Linear(2, 3)
        self.training = True

    def forward(self, x):
        return self.layer(x)

    def parameters(self):
        return self.layer.parameters()


def test_course_style_model_and_get_lr_scheduler():
    x, y = make_blobs(20)
    model = CourseStyleModel()
    opt = SGD(model.parameters(), lr=1.0)
    trainer = Trainer(model, opt, CrossEntropyLoss(), scheduler=CosineSchedule(0.2, 0.1, 2))
    trainer.train_epoch(DataLoader(TensorDataset(x, y), batch_size=8))
    assert model.training and opt.lr == pytest.approx(0.2)
    loss, accuracy = trainer.evaluate([(Tensor(x), y)])
    assert not model.training and 0.0 <= accuracy <= 1.0 and loss > 0


def test_evaluate_does_not_record_the_graph_or_touch_grads():
    x, y = make_blobs(20)
    model = Linear(2, 3)
    trainer = Trainer(model, SGD(model.parameters(), lr=0.1), CrossEntropyLoss())
    weights = model.weight.data.copy()
    trainer.evaluate(DataLoader(TensorDataset(x, y), batch_size=8))
    assert model.weight.grad is None
    np.testing.assert_array_equal(model.weight.data, weights)
