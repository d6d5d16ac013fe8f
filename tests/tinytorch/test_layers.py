"""Layers: Linear convention and gradients, parameter discovery, Dropout, Sequential, Flatten."""

from __future__ import annotations

import numpy as np
import pytest

import tinytorch
from tests.tinytorch.gradcheck import gradcheck
from tinytorch.core.activations import ReLU
from tinytorch.core.layers import Dropout, Flatten, Layer, Linear, Sequential
from tinytorch.core.tensor import Tensor


def test_linear_weight_convention_and_forward():
    layer = Linear(3, 2)
    assert layer.weight.shape == (3, 2) and layer.bias.shape == (2,)
    assert layer.weight.dtype == np.float32 and layer.weight.requires_grad
    bound = 1 / np.sqrt(3)
    assert np.all(np.abs(layer.weight.data) <= bound) and np.all(np.abs(layer.bias.data) <= bound)
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_allclose(layer(Tensor(x)).data, x @ layer.weight.data + layer.bias.data, rtol=1e-6)
    assert Linear(3, 2, bias=False).bias is None
    assert len(Linear(3, 2, bias=False).parameters()) == 1


def test_linear_gradients_including_batched_input():
    layer = Linear(4, 3)
    x = np.random.default_rng(0).normal(size=(2, 5, 4))

    def through(inp, w, b):
        layer.weight, layer.bias = w, b
        return layer(inp)

    gradcheck(through, [x, layer.weight.data, layer.bias.data])


def test_linear_rejects_wrong_input_width():
    with pytest.raises(ValueError, match=r"Linear\(4, 3\): input shape \(2, 5\).*expected 4"):
        Linear(4, 3)(Tensor(np.ones((2, 5))))


def test_init_depends_only_on_seed():
    tinytorch.manual_seed(7)
    a = Linear(5, 4).weight.data.copy()
    tinytorch.manual_seed(7)
    b = Linear(5, 4).weight.data.copy()
    c = Linear(5, 4).weight.data.copy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(b, c)


class Block(Layer):
    def __init__(self):
        self.first = Linear(2, 3)
        self.stack = [Linear(3, 3), {"head": Linear(3, 1)}]
        self.shared = self.first  # the same layer twice must not duplicate parameters
        self.buffer = Tensor(np.zeros(3))  # no requires_grad: not a parameter
        self.scale = Tensor(np.ones(1), requires_grad=True)

    def forward(self, x):
        return self.stack[1]["head"](self.stack[0](self.first(x))) * self.scale


def test_parameters_found_recursively_once_each():
    block = Block()
    params = block.parameters()
    assert len(params) == 7
    assert len({id(p) for p in params}) == 7
    assert params[0] is block.first.weight


def test_train_eval_propagate_and_zero_grad():
    block = Block()
    assert block.eval() is block
    assert not block.training and not block.first.training and not block.stack[1]["head"].training
    block.train()
    assert block.stack[0].training
    block(Tensor(np.ones((1, 2)))).sum().backward()
    assert all(p.grad is not None for p in block.parameters())
    block.zero_grad()
    assert all(p.grad is None for p in block.parameters())


def test_dropout_train_scales_and_eval_is_identity():
    drop = Dropout(0.25)
    x = Tensor(np.ones((200, 50)), requires_grad=True)
    out = drop(x)
    kept = out.data != 0
    assert abs(kept.mean() - 0.75) < 0.02
    np.testing.assert_allclose(out.data[kept], 1 / 0.75, rtol=1e-6)
    out.sum().backward()
    np.testing.assert_allclose(x.grad, kept / 0.75, rtol=1e-6)
    assert drop(x, training=False) is x
    drop.eval()
    assert drop(x) is x
    assert (drop(x, training=True).data == 0).any()
    assert Dropout(1.0)(x).data.sum() == 0
    with pytest.raises(ValueError, match="p must be in"):
        Dropout(1.5)


def test_dropout_mask_follows_seed():
    tinytorch.manual_seed(3)
    a = Dropout(0.5)(Tensor(np.ones(100))).data
    tinytorch.manual_seed(3)
    b = Dropout(0.5)(Tensor(np.ones(100))).data
    np.testing.assert_array_equal(a, b)


def test_sequential_and_flatten():
    model = Sequential(Flatten(), Linear(12, 4), ReLU(), Linear(4, 2))
    assert len(model) == 4 and isinstance(model[1], Linear)
    assert len(model.parameters()) == 4
    out = model(Tensor(np.ones((5, 3, 2, 2))))
    assert out.shape == (5, 2)
    assert len(Sequential([Linear(2, 2), ReLU()]).parameters()) == 2
    gradcheck(lambda x: Flatten()(x), [np.ones((2, 3, 2))])
