"""Layers: Linear convention, course initialisation and gradients, Dropout, Sequential, Flatten."""

from __future__ import annotations

import numpy as np
import pytest

from tests.tinytorch.gradcheck import gradcheck
from tinytorch.core import layers
from tinytorch.core.activations import ReLU
from tinytorch.core.layers import Dropout, Flatten, Layer, Linear, Sequential
from tinytorch.core.tensor import Tensor


def test_linear_weight_convention_and_forward():
    layer = Linear(3, 2)
    assert layer.weight.shape == (3, 2) and layer.bias.shape == (2,)
    assert layer.weight.dtype == np.float32 and layer.weight.requires_grad
    assert layer.bias.data.tolist() == [0.0, 0.0]
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_allclose(layer(Tensor(x)).data, x @ layer.weight.data + layer.bias.data, rtol=1e-6)
    assert Linear(3, 2, bias=False).bias is None
    assert len(Linear(3, 2, bias=False).parameters()) == 1
    assert repr(layer) == "Linear(in_features=3, out_features=2, bias=True)"


def test_linear_init_is_the_course_draw_from_numpy():
    np.random.seed(7)
    layer = Linear(5, 4)
    np.random.seed(7)
    expected = np.random.randn(5, 4) * np.sqrt(1 / 5)
    np.testing.assert_array_equal(layer.weight.data, expected.astype(np.float32))
    assert layer.parameters() == [layer.weight, layer.bias]


def test_linear_gradients_including_batched_input():
    layer = Linear(4, 3)
    x = np.random.default_rng(0).normal(size=(2, 5, 4))

    def through(inp, w, b):
        layer.weight, layer.bias = w, b
        return layer(inp)

    gradcheck(through, [x, layer.weight.data, layer.bias.data + 0.1])


def test_linear_rejects_wrong_input_width():
    with pytest.raises(ValueError, match=r"Linear\(4, 3\): input shape \(2, 5\).*expected 4"):
        Linear(4, 3)(Tensor(np.ones((2, 5))))


def test_layer_base_is_the_courses():
    layer = Layer()
    assert layer.parameters() == [] and repr(layer) == "Layer()"
    with pytest.raises(NotImplementedError):
        layer(Tensor([1.0]))
    assert (layers.XAVIER_SCALE_FACTOR, layers.HE_SCALE_FACTOR) == (1.0, 2.0)
    assert (layers.DROPOUT_MIN_PROB, layers.DROPOUT_MAX_PROB) == (0.0, 1.0)
    assert layers.ReLU is ReLU  # the course's layers module imports ReLU and Sigmoid


def test_dropout_scales_in_training_and_passes_through_otherwise():
    drop = Dropout(0.25)
    x = Tensor(np.ones((200, 50)), requires_grad=True)
    out = drop(x)  # training=True by default, as the course
    kept = out.data != 0
    assert abs(kept.mean() - 0.75) < 0.02
    np.testing.assert_allclose(out.data[kept], 1 / 0.75, rtol=1e-6)
    out.sum().backward()
    np.testing.assert_allclose(x.grad, kept / 0.75, rtol=1e-6)
    assert drop(x, training=False) is x and Dropout(0.0)(x) is x
    assert Dropout(1.0)(x).data.sum() == 0
    with pytest.raises(ValueError, match="between 0.0 and 1.0"):
        Dropout(1.5)


def test_dropout_mask_is_the_course_draw():
    np.random.seed(3)
    out = Dropout(0.5)(Tensor(np.ones(100))).data
    np.random.seed(3)
    keep = np.random.random(100) < 0.5
    np.testing.assert_array_equal(out, keep * 2.0)


def test_sequential_and_flatten():
    model = Sequential(Flatten(), Linear(12, 4), ReLU(), Linear(4, 2))
    assert len(model.layers) == 4 and isinstance(model.layers[1], Linear)
    assert len(model.parameters()) == 4
    assert model(Tensor(np.ones((5, 3, 2, 2)))).shape == (5, 2)
    assert len(Sequential([Linear(2, 2), ReLU()]).parameters()) == 2
    gradcheck(lambda x: Flatten()(x), [np.ones((2, 3, 2))])
