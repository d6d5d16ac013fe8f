"""Activations: the course's values (GELU = x * sigmoid(1.702 x)), gradients, stability, Function classes."""

from __future__ import annotations

import numpy as np
import pytest

from tests.tinytorch.gradcheck import gradcheck
from tinytorch.core import activations
from tinytorch.core.activations import GELU, ReLU, Sigmoid, Softmax, Tanh
from tinytorch.core.tensor import Tensor

X = np.random.default_rng(3).normal(size=(4, 5)) * 2


def test_values():
    x = np.array([-1.0, 0.0, 2.0])
    t = Tensor(x)
    np.testing.assert_allclose(ReLU()(t).data, [0, 0, 2])
    np.testing.assert_allclose(Sigmoid()(t).data, 1 / (1 + np.exp(-x)), rtol=1e-6)
    np.testing.assert_allclose(Tanh()(t).data, np.tanh(x), rtol=1e-6)
    np.testing.assert_allclose(GELU()(t).data, x / (1 + np.exp(-1.702 * x)), rtol=1e-6, atol=1e-7)
    probs = Softmax()(Tensor([[1.0, 2.0, 3.0]])).data
    np.testing.assert_allclose(probs, np.exp([[1, 2, 3]]) / np.exp([1, 2, 3]).sum(), rtol=1e-6)


@pytest.mark.parametrize("layer", [Sigmoid(), Tanh(), GELU()])
def test_gradients(layer):
    gradcheck(layer, [X])


@pytest.mark.parametrize("dim", [-1, 0])
def test_softmax_gradient_and_dim_per_call(dim):
    gradcheck(lambda x: Softmax()(x, dim=dim), [X])
    np.testing.assert_allclose(Softmax().forward(Tensor(X), dim).data.sum(axis=dim), 1, rtol=1e-6)


def test_relu_gradient_away_from_zero():
    gradcheck(ReLU(), [np.where(np.abs(X) < 0.1, 0.5, X)])


def test_the_course_function_classes_are_recorded():
    x = Tensor(X, requires_grad=True)
    names = [type(layer(x)._grad_fn).__name__ for layer in (Sigmoid(), ReLU(), GELU(), Softmax())]
    assert names == ["SigmoidBackward", "ReLUBackward", "GELUBackward", "SoftmaxBackward"]


def test_course_api_extras():
    for layer in (Sigmoid(), ReLU(), Tanh(), GELU(), Softmax()):
        assert layer.parameters() == [] and layer.backward(Tensor([1.0])) is None
    assert activations.TOLERANCE == 1e-10


def test_stable_for_huge_inputs():
    x = Tensor([[1e4, 0.0, -1e4], [1e4, 1e4, 1e4]], requires_grad=True)
    out = Softmax()(x)
    np.testing.assert_allclose(out.data, [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3]], rtol=1e-6)
    (out * Tensor([[1.0, 2.0, 3.0]])).sum().backward()
    assert np.all(np.isfinite(x.grad))
    with np.errstate(over="raise", invalid="raise"):
        np.testing.assert_allclose(Sigmoid()(Tensor([-1e4, 1e4])).data, [0, 1])
        np.testing.assert_allclose(GELU()(Tensor([-1e4, 1e4])).data, [0, 1e4])


def test_all_outputs_are_float32():
    for layer in (Sigmoid(), Tanh(), GELU(), ReLU(), Softmax()):
        assert layer(Tensor(X)).dtype == np.float32
