"""Trainer (the course's loop, schedule timing, accumulation, checkpoints), CosineSchedule, clip_grad_norm."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tinytorch.core import training
from tinytorch.core.activations import ReLU
from tinytorch.core.dataloader import DataLoader, TensorDataset
from tinytorch.core.layers import Linear, Sequential
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.optimizers import SGD
from tinytorch.core.tensor import Tensor
from tinytorch.core.training import CosineSchedule, Trainer, clip_grad_norm


def test_cosine_schedule_defaults_endpoints_and_midpoint():
    sched = CosineSchedule(max_lr=0.1, min_lr=0.01, total_epochs=10)
    assert sched.get_lr(0) == pytest.approx(0.1)
    assert sched.get_lr(5) == pytest.approx(0.055)
    assert sched.get_lr(10) == pytest.approx(0.01) and sched.get_lr(50) == pytest.approx(0.01)
    default = CosineSchedule()
    assert (default.max_lr, default.min_lr, default.total_epochs) == (0.1, 0.01, 100)
    defaults = (training.DEFAULT_MAX_LR, training.DEFAULT_MIN_LR, training.DEFAULT_TOTAL_EPOCHS)
    assert defaults == (0.1, 0.01, 100)


def test_clip_grad_norm_scales_to_max_norm_and_returns_total():
    a = Tensor(np.zeros(2), requires_grad=True)
    b = Tensor(np.zeros(1), requires_grad=True)
    a.grad, b.grad = np.array([3.0, 0.0], dtype=np.float32), np.array([4.0], dtype=np.float32)
    total = clip_grad_norm(parameters=[a, b], max_norm=1.0)
    assert total == pytest.approx(5.0)
    assert math.sqrt(np.sum(a.grad**2) + np.sum(b.grad**2)) == pytest.approx(1.0, rel=1e-5)
    np.testing.assert_allclose(a.grad, [0.6, 0.0], rtol=1e-5)
    assert a.grad.dtype == np.float32
    assert clip_grad_norm([a, b], max_norm=10.0) == pytest.approx(1.0, rel=1e-5)
    np.testing.assert_allclose(a.grad, [0.6, 0.0], rtol=1e-5)  # under the limit: untouched
    assert clip_grad_norm([]) == 0.0


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
    assert losses[-1] < losses[0]
    assert after_loss < before_loss * 0.5 and after_acc > 0.9 > before_acc
    assert trainer.history["train_loss"] == losses and len(trainer.history["eval_loss"]) == 2
    assert set(trainer.history) == {"train_loss", "eval_loss", "learning_rates"}
    # the course sets the lr AFTER each epoch, from the epoch just finished
    assert trainer.history["learning_rates"] == [sched.get_lr(e) for e in range(5)]
    assert opt.lr == sched.get_lr(4)
    assert trainer.epoch == 5 and trainer.step == 5 * len(loader)
    assert not model.training and not trainer.training_mode  # evaluate() switched both off


def test_first_epoch_runs_at_the_optimizers_own_lr():
    x, y = make_blobs(8)
    model = Linear(2, 3)
    opt = SGD(model.parameters(), lr=0.0)
    weights = model.weight.data.copy()
    Trainer(model, opt, CrossEntropyLoss(), scheduler=CosineSchedule(1.0, 0.5, 2)).train_epoch(
        DataLoader(TensorDataset(x, y), batch_size=8))
    np.testing.assert_array_equal(model.weight.data, weights)  # lr 0.0 during the epoch
    assert opt.lr == 1.0


def test_accumulation_sums_unscaled_gradients_as_the_course():
    x, y = make_blobs(16)
    results = []
    for batch_size, steps, lr in ((16, 1, 0.5), (4, 4, 0.5 / 4)):
        model = Linear(2, 3)
        model.weight.data[...] = 0.1
        model.bias.data[...] = 0.0
        opt = SGD(model.parameters(), lr=lr)
        loss = Trainer(model, opt, CrossEntropyLoss()).train_epoch(
            DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=False), accumulation_steps=steps)
        results.append((model.weight.data.copy(), loss))
    # four mean-losses' gradients summed at lr/4 equal one batch of 16 at lr; reported losses match
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-5, atol=1e-7)
    assert results[0][1] == pytest.approx(results[1][1], rel=1e-5)


class CourseStyleModel:
    """Not a Layer and not callable: only forward(), parameters() and a training flag."""

    def __init__(self):
        self.layer = Linear(2, 3)
        self.training = True

    def forward(self, x):
        return self.layer(x)

    def parameters(self):
        return self.layer.parameters()


def test_evaluate_accuracy_and_no_graph():
    x, y = make_blobs(20)
    model = CourseStyleModel()
    trainer = Trainer(model, SGD(model.parameters(), lr=0.1), CrossEntropyLoss())
    weights = model.layer.weight.data.copy()
    loss, accuracy = trainer.evaluate([(Tensor(x), Tensor(y))])
    predictions = np.argmax(x @ model.layer.weight.data + model.layer.bias.data, axis=1)
    assert accuracy == pytest.approx(np.mean(predictions == y)) and loss > 0
    assert model.layer.weight.grad is None
    np.testing.assert_array_equal(model.layer.weight.data, weights)


def test_checkpoint_round_trip(tmp_path):
    x, y = make_blobs(16)
    model = Linear(2, 3)
    opt = SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = CosineSchedule(0.1, 0.01, 4)
    trainer = Trainer(model, opt, CrossEntropyLoss(), scheduler=sched)
    trainer.train_epoch(DataLoader(TensorDataset(x, y), batch_size=8))
    path = tmp_path / "sub" / "ckpt.pkl"
    trainer.save_checkpoint(str(path))
    saved_weight, saved_lr = model.weight.data.copy(), opt.lr
    model.weight.data[...] = 0
    opt.lr, opt.momentum_buffers[0], sched.max_lr = 9.0, None, 5.0
    trainer.epoch, trainer.history = 99, {}
    trainer.load_checkpoint(str(path))
    np.testing.assert_array_equal(model.weight.data, saved_weight)
    assert opt.lr == saved_lr and opt.momentum_buffers[0] is not None and sched.max_lr == 0.1
    assert trainer.epoch == 1 and trainer.step == 2 and len(trainer.history["train_loss"]) == 1
