"""Activation functions, as functions on Tensors and as Layer modules."""

from __future__ import annotations

import math

import numpy as np

from tinytorch.core.layers import Layer
from tinytorch.core.tensor import FLOAT, Tensor

_GELU_C = FLOAT(math.sqrt(2.0 / math.pi))
_GELU_K = FLOAT(0.044715)


def sigmoid(x: Tensor) -> Tensor:
    return x.sigmoid()


def relu(x: Tensor) -> Tensor:
    return x.relu()


def tanh(x: Tensor) -> Tensor:
    return x.tanh()


def gelu(x: Tensor) -> Tensor:
    """GELU, tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
    v = x.data
    t = np.tanh(_GELU_C * (v + _GELU_K * v * v * v))
    data = FLOAT(0.5) * v * (1 + t)

    def backward(g):
        dt = (1 - t * t) * _GELU_C * (1 + FLOAT(3) * _GELU_K * v * v)
        return (g * (FLOAT(0.5) * (1 + t) + FLOAT(0.5) * v * dt),)

    return Tensor._from_op(data, (x,), backward, "gelu")


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    """Softmax along ``dim``, shifted by the max so large logits do not overflow."""
    shifted = x.data - x.data.max(axis=dim, keepdims=True)
    e = np.exp(shifted)
    s = e / e.sum(axis=dim, keepdims=True)

    def backward(g):
        return (s * (g - (g * s).sum(axis=dim, keepdims=True)),)

    return Tensor._from_op(s, (x,), backward, "softmax")


class Sigmoid(Layer):
    def forward(self, x: Tensor) -> Tensor:
        return sigmoid(x)


class ReLU(Layer):
    def forward(self, x: Tensor) -> Tensor:
        return relu(x)


class Tanh(Layer):
    def forward(self, x: Tensor) -> Tensor:
        return tanh(x)


class GELU(Layer):
    def forward(self, x: Tensor) -> Tensor:
        return gelu(x)


class Softmax(Layer):
    """Softmax over ``dim`` (default the last); ``forward(x, dim=...)`` overrides it per call."""

    def __init__(self, dim: int = -1):
        self.dim = dim

    def forward(self, x: Tensor, dim: int | None = None) -> Tensor:
        return softmax(x, self.dim if dim is None else dim)
