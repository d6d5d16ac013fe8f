"""Pruning (exact sparsity, masks survive optimizer steps), low-rank layers, distillation loss."""

import numpy as np
import pytest

from tests.tinytorch.gradcheck import gradcheck
from tinytorch.core.activations import ReLU
from tinytorch.core.layers import Linear, Sequential
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.optimizers import SGD, Adam
from tinytorch.core.spatial import Conv2d
from tinytorch.core.tensor import Tensor
from tinytorch.perf.compression import (
    distillation_loss,
    low_rank_approximate,
    low_rank_linear,
    magnitude_prune,
    measure_sparsity,
    structured_prune,
)


def mlp():
    return Sequential(Linear(30, 40), ReLU(), Linear(40, 20), ReLU(), Linear(20, 5))


def weights(model):
    return [p for p in model.parameters() if p.data.ndim >= 2]


def zero_fraction(params):
    return sum(int((p.data == 0).sum()) for p in params) / sum(p.data.size for p in params)


@pytest.mark.parametrize("scope", ["global", "layer"])
@pytest.mark.parametrize("sparsity", [0.0, 0.3, 0.5, 0.9, 0.999])
def test_magnitude_prune_hits_requested_sparsity(scope, sparsity):
    model = mlp()
    masks = magnitude_prune(model, sparsity, scope=scope)
    assert abs(zero_fraction(weights(model)) - sparsity) <= 0.005
    assert masks.sparsity == pytest.approx(zero_fraction(weights(model)))
    if scope == "layer":
        for w in weights(model):
            assert abs(float((w.data == 0).mean()) - sparsity) <= 0.5 / w.data.size + 1e-9
    assert all(np.count_nonzero(p.data) == p.data.size for p in model.parameters() if p.data.ndim == 1)


def test_global_prune_removes_exactly_the_smallest_magnitudes():
    a = Tensor(np.array([[0.1, -5.0], [3.0, 0.2]]), requires_grad=True)
    b = Tensor(np.array([[-0.05, 4.0, 0.3]]), requires_grad=True)
    magnitude_prune([a, b], 0.6)  # 3 of 7 (rounded 4.2 -> 4): 0.05, 0.1, 0.2, 0.3
    np.testing.assert_array_equal(a.data, [[0, -5], [3, 0]])
    np.testing.assert_array_equal(b.data, [[0, 4, 0]])


def test_global_prune_favours_small_layers_differently_than_layer_scope():
    small = Tensor(np.full((10, 10), 0.01), requires_grad=True)
    large = Tensor(np.ones((10, 10)), requires_grad=True)
    magnitude_prune([small, large], 0.5, scope="global")
    assert np.all(small.data == 0) and np.all(large.data == 1)


OPTIMIZERS = [lambda p: SGD(p, lr=0.1, momentum=0.9), lambda p: Adam(p, lr=0.01)]


@pytest.mark.parametrize("make_optimizer", OPTIMIZERS)
def test_pruned_weights_stay_zero_after_optimizer_steps(make_optimizer):
    rng = np.random.default_rng(0)
    model = mlp()
    optimizer = make_optimizer(model.parameters())
    x, y = Tensor(rng.normal(size=(16, 30))), rng.integers(0, 5, size=16)
    loss_fn = CrossEntropyLoss()
    # a step before pruning fills the momentum buffers, the hard case for staying pruned
    loss_fn(model(x), y).backward()
    optimizer.step()
    masks = magnitude_prune(model, 0.8)
    zero_before = [p.data == 0 for p in weights(model)]
    masks.attach(optimizer)
    for _ in range(3):
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()
    for w, was_zero in zip(weights(model), zero_before, strict=True):
        assert np.all(w.data[was_zero] == 0)
    assert abs(zero_fraction(weights(model)) - 0.8) <= 0.005


def test_without_masks_optimizer_revives_pruned_weights():
    rng = np.random.default_rng(1)
    model = mlp()
    optimizer = SGD(model.parameters(), lr=0.1)
    magnitude_prune(model, 0.8)
    CrossEntropyLoss()(model(Tensor(rng.normal(size=(16, 30)))), rng.integers(0, 5, size=16)).backward()
    optimizer.step()
    assert zero_fraction(weights(model)) < 0.5


def test_measure_sparsity_is_a_percentage_over_all_parameters():
    layer = Linear(4, 2)
    layer.weight.data[:] = 0.0
    assert measure_sparsity(layer) == pytest.approx(100.0 * 8 / 10)


def test_structured_prune_zeroes_lowest_norm_neurons_and_filters():
    fc = Linear(3, 4)
    fc.weight.data[:] = np.array([[1.0, 0.1, 3.0, 0.2]] * 3)
    conv = Conv2d(2, 4, 3)
    conv.weight.data[:] = np.array([0.5, 2.0, 0.1, 1.0])[:, None, None, None]
    masks = structured_prune([fc, conv], 0.5)
    np.testing.assert_array_equal(np.all(fc.weight.data == 0, axis=0), [False, True, False, True])
    np.testing.assert_array_equal(fc.bias.data == 0, [False, True, False, True])
    np.testing.assert_array_equal(np.all(conv.weight.data == 0, axis=(1, 2, 3)), [True, False, True, False])
    np.testing.assert_array_equal(conv.bias.data == 0, [True, False, True, False])
    assert masks.sparsity == pytest.approx(0.5)


def test_structured_prune_on_model_keeps_output_layer():
    model = mlp()
    structured_prune(model, 0.25)
    dead = [int(np.all(layer.weight.data == 0, axis=0).sum()) for layer in (model[0], model[2], model[4])]
    assert dead == [10, 5, 0]


def test_low_rank_full_rank_reproduces_layer_and_error_falls_with_rank():
    rng = np.random.default_rng(2)
    linear = Linear(24, 16)
    x = Tensor(rng.normal(size=(8, 24)))
    expected = linear(x).data
    full = low_rank_linear(linear, 16)
    np.testing.assert_allclose(full(x).data, expected, rtol=1e-4, atol=1e-5)
    errors = [np.abs(low_rank_linear(linear, r)(x).data - expected).mean() for r in (1, 4, 8, 12, 16)]
    assert all(a > b for a, b in zip(errors, errors[1:], strict=False))
    small = low_rank_linear(linear, 4)
    assert sum(p.data.size for p in small.parameters()) == 4 * (24 + 16) + 16


def test_low_rank_factors_are_trainable_and_rank_checked():
    layer = low_rank_linear(Linear(5, 3), 2)
    gradcheck(lambda x: layer(x), [np.random.default_rng(3).normal(size=(2, 5))])
    layer(Tensor(np.ones((2, 5)))).sum().backward()
    assert layer.first.grad.shape == (5, 2) and layer.second.grad.shape == (2, 3)
    with pytest.raises(ValueError, match=r"rank must be an int in \[1, 3\]"):
        low_rank_linear(Linear(5, 3), 4)


def test_distillation_loss_value_by_hand():
    student = np.array([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]])
    teacher = np.array([[2.0, 1.0, 0.0], [1.0, 1.0, 1.0]])
    targets = np.array([1, 2])
    temperature, alpha = 2.0, 0.7

    def softmax(z):
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    p_t, p_s = softmax(teacher / temperature), softmax(student / temperature)
    kl = (p_t * np.log(p_t / p_s)).sum(axis=1).mean()
    ce = -np.log(softmax(student)[[0, 1], targets]).mean()
    expected = alpha * temperature**2 * kl + (1 - alpha) * ce
    got = distillation_loss(Tensor(student), teacher, targets, temperature, alpha)
    assert got.data.item() == pytest.approx(expected, rel=1e-5)
    # alpha=1 leaves only the KL term, which is zero for identical logits
    same = distillation_loss(Tensor(student), student, targets, temperature, 1.0)
    assert abs(same.data.item()) < 1e-6


def test_distillation_loss_gradient():
    rng = np.random.default_rng(4)
    teacher, targets = rng.normal(size=(4, 6)) * 3, rng.integers(0, 6, size=4)
    loss = lambda s: distillation_loss(s, teacher, targets, temperature=3.0, alpha=0.6)  # noqa: E731
    gradcheck(loss, [rng.normal(size=(4, 6))], eps=1e-3)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="sparsity must be in"):
        magnitude_prune(mlp(), 1.5)
    with pytest.raises(ValueError, match="nothing to prune: ReLU"):
        magnitude_prune(ReLU(), 0.5)
    with pytest.raises(ValueError, match="scope"):
        magnitude_prune(mlp(), 0.5, scope="row")
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(2, 4\)"):
        distillation_loss(Tensor(np.ones((2, 4))), np.ones((2, 3)), [0, 1])


def test_low_rank_approximate_has_the_courses_signature_and_is_optimal():
    weight = np.random.default_rng(4).normal(size=(40, 24))
    u, s, v = low_rank_approximate(weight, rank_ratio=0.25)
    assert u.shape == (40, 6) and s.shape == (6,) and v.shape == (6, 24)
    dropped = np.linalg.svd(weight, compute_uv=False)[6:]
    error = np.linalg.norm(weight - u @ np.diag(s) @ v)
    np.testing.assert_allclose(error, np.sqrt((dropped**2).sum()), rtol=1e-10)
    assert low_rank_approximate(weight, rank_ratio=0.001)[1].shape == (1,)
