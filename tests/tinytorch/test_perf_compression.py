"""Compression as the course defines it: per-parameter magnitude pruning, structured pruning of Linear
columns, sparsity as a fraction, the compress_model pipeline, low-rank SVD, knowledge distillation."""

import numpy as np
import pytest

from tests.tinytorch.models import LayerMLP
from tinytorch.core.activations import ReLU
from tinytorch.core.layers import Linear
from tinytorch.core.tensor import Tensor
from tinytorch.perf.compression import (
    Compressor,
    KnowledgeDistillation,
    compress_model,
    low_rank_approximate,
    magnitude_prune,
    measure_sparsity,
    structured_prune,
)


def mlp():
    np.random.seed(0)
    model = LayerMLP(Linear(30, 40), ReLU(), Linear(40, 20), ReLU(), Linear(20, 5))
    for p in model.parameters():  # distinct non-zero values everywhere, biases included
        p.data = np.random.default_rng(p.size).normal(size=p.shape) + 0.01
    return model


def test_measure_sparsity_is_a_fraction_over_all_parameters():
    model = mlp()
    assert measure_sparsity(model) == 0.0
    model.layers[0].bias.data[:10] = 0
    total = sum(p.size for p in model.parameters())
    assert measure_sparsity(model) == pytest.approx(10 / total)


@pytest.mark.parametrize("sparsity", [0.3, 0.5, 0.9])
def test_magnitude_prune_zeros_each_parameter_below_its_own_percentile(sparsity):
    model = mlp()
    before = [p.data.copy() for p in model.parameters()]
    assert magnitude_prune(model, sparsity=sparsity) is model
    for p, old in zip(model.parameters(), before, strict=True):
        threshold = np.percentile(np.abs(old), sparsity * 100)
        np.testing.assert_array_equal(p.data, np.where(np.abs(old) < threshold, 0, old))
        assert abs(np.mean(p.data == 0) - sparsity) <= 1 / p.size + 1e-9  # biases included
    assert measure_sparsity(model) == pytest.approx(sparsity, abs=0.01)


def test_magnitude_prune_default_is_half():
    model = mlp()
    magnitude_prune(model)
    assert measure_sparsity(model) == pytest.approx(0.5, abs=0.01)


def test_structured_prune_zeros_the_weakest_output_columns_of_each_linear():
    model = mlp()
    weight = model.layers[2].weight.data.copy()
    bias = model.layers[2].bias.data.copy()
    assert structured_prune(model, prune_ratio=0.25) is model
    norms = np.linalg.norm(weight, axis=0)
    dropped = norms < np.percentile(norms, 25)
    assert dropped.sum() == 5
    np.testing.assert_array_equal(model.layers[2].weight.data[:, dropped], 0)
    np.testing.assert_array_equal(model.layers[2].weight.data[:, ~dropped], weight[:, ~dropped])
    np.testing.assert_array_equal(model.layers[2].bias.data, bias)  # the course keeps biases


def test_compress_model_pipeline_and_compressor_statics():
    model = mlp()
    out, stats = compress_model(model, {"magnitude_sparsity": 0.6, "structured_prune_ratio": 0.2})
    assert out is model and stats["original_sparsity"] == 0.0
    assert stats["final_sparsity"] == pytest.approx(measure_sparsity(model))
    assert stats["compression_ratio"] == pytest.approx(1 / (1 - stats["final_sparsity"]))
    assert Compressor.measure_sparsity(model) == measure_sparsity(model)
    assert compress_model(mlp(), {})[1]["final_sparsity"] == 0.0


@pytest.mark.parametrize("rank_ratio", [0.25, 0.5, 1.0, 0.01])
def test_low_rank_returns_the_best_rank_k_factors(rank_ratio):
    w = np.random.default_rng(1).normal(size=(30, 20))
    U, S, V = low_rank_approximate(w, rank_ratio=rank_ratio)
    k = max(1, int(rank_ratio * 20))
    assert U.shape == (30, k) and S.shape == (k,) and V.shape == (k, 20)
    approx = U @ np.diag(S) @ V
    singular = np.linalg.svd(w, compute_uv=False)
    # Eckart-Young: the error of the best rank-k approximation is the discarded singular values
    assert np.linalg.norm(w - approx) == pytest.approx(np.sqrt(np.sum(singular[k:] ** 2)), abs=1e-9)
    np.testing.assert_allclose(S, singular[:k])
    assert low_rank_approximate(Tensor(w))[0].shape == (30, 10)  # default rank_ratio 0.5, Tensors too


def test_knowledge_distillation_loss():
    kd = KnowledgeDistillation(teacher_model="t", student_model="s")
    assert (kd.temperature, kd.alpha, kd.teacher_model, kd.student_model) == (3.0, 0.7, "t", "s")
    rng = np.random.default_rng(2)
    student, teacher = rng.normal(size=(4, 5)), rng.normal(size=(4, 5))
    labels = np.array([0, 2, 4, 1])

    def softmax(z):
        e = np.exp(z - z.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)

    ps, pt = softmax(student / 3), softmax(teacher / 3)
    soft = np.sum(ps * np.log(ps / (pt + 1e-8) + 1e-8))
    hard = -np.mean(np.log(softmax(student)[np.arange(4), labels] + 1e-8))
    expected = 0.7 * soft + 0.3 * hard
    loss = kd.distillation_loss(Tensor(student), Tensor(teacher), labels)
    assert loss == pytest.approx(expected, rel=1e-5)
    float_ids = kd.distillation_loss(Tensor(student), Tensor(teacher), Tensor(labels))  # float ids work
    assert float_ids == pytest.approx(expected, rel=1e-5)
    one_hot = kd.distillation_loss(Tensor(student), Tensor(teacher), np.eye(5)[labels])
    assert one_hot == pytest.approx(expected, rel=1e-5)
