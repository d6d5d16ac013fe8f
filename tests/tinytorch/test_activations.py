"""Activations: values, gradients, numerical stability; module and function forms."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.tinytorch.gradcheck import gradcheck
from tinytorch.core.activations import GELU, ReLU, Sigmoid, Softmax, Tanh, gelu, relu, sigmoid, softmax, tanh
from tinytorch.core.tensor import Tensor

X = np.random.default_rng(3).normal(size=(4, 5)) * 2


def test_values():
    x = np.array([-1.0, 0.0, 2.0])
    t = Tensor(x)
    np.testing.assert_allclose(ReLU()(t).data, [0, 0, 2])
    np.testing.assert_allclose(Sigmoid()(t).data, 1 / (1 + np.exp(-x)), rtol=1e-6)
    np.testing.assert_allclose(Tanh()(t).data, np.tanh(x), rtol=1e-6)
    expected_gelu = [0.5 * v * (1 + math.tanh(math.sqrt(2 / math.pi) * (v + 0.044715 * v**3))) for v in x]
    np.testing.assert_allclose(GELU()(t).data, expected_gelu, rtol=1e-6, atol=1e-7)
    probs = Softmax()(Tensor([[1.0, 2.0, 3.0]])).data
    np.testing.assert_allclose(probs, np.exp([[1, 2, 3]]) / np.exp([1, 2, 3]).sum(), rtol=1e-6)


@pytest.mark.parametrize(
    "fn", [sigmoid, tanh, gelu, lambda x: softmax(x, dim=-1), lambda x: softmax(x, dim=0)]
)
def test_gradients(fn):
    gradcheck(fn, [X])


def test_relu_gradient_away_from_zero():
    gradcheck(relu, [np.where(np.abs(X) < 0.1, 0.5, X)])


def test_softmax_module_dim_and_rows_sum_to_one():
    out = Softmax(dim=0)(Tensor(X))
    np.testing.assert_allclose(out.data.sum(axis=0), 1, rtol=1e-6)
    np.testing.assert_allclose(Softmax().forward(Tensor(X), dim=0).data, out.data)


def test_softmax_is_stable_for_huge_logits():
    x = Tensor([[1e4, 0.0, -1e4], [1e4, 1e4, 1e4]], requires_grad=True)
    out = softmax(x)
    np.testing.assert_allclose(out.data, [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3]], rtol=1e-6)
    (out * Tensor([[1.0, 2.0, 3.0]])).sum().backward()
    assert np.all(np.isfinite(x.grad))


def test_all_outputs_are_float32():
    for fn in (sigmoid, tanh, gelu, relu, softmax):
        assert fn(Tensor(X)).dtype == np.float32
