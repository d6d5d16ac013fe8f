"""Activation layers, as the course defines them: Sigmoid, ReLU, Tanh, GELU, Softmax.

GELU is the course's sigmoid approximation x * sigmoid(1.702 x) (not the tanh one).
"""

from __future__ import annotations

import numpy as np

from tinytorch.core.autograd import (
    GELU_SIGMOID_SCALE,
    GELUBackward,
    ReLUBackward,
    SigmoidBackward,
    SoftmaxBackward,
    sigmoid_array,
)
from tinytorch.core.tensor import Tensor, _records

TOLERANCE = 1e-10  # the course's tolerance for comparing activations in tests


class _Activation:
    """Parameter-free layer: ``act(x)`` calls ``forward(x)``; ``backward(grad)`` is the course's stub."""

    def __call__(self, x):
        return self.forward(x)

    def parameters(self):
        return []

    def backward(self, grad):
        """Course API stub: gradients flow through autograd, so this returns None."""


class Sigmoid(_Activation):
    """1 / (1 + exp(-x)), computed without overflow."""

    def forward(self, x: Tensor) -> Tensor:
        out = Tensor._wrap(sigmoid_array(x.data))
        return out._attach(SigmoidBackward(x, out)) if _records(x) else out


class ReLU(_Activation):
    """max(0, x)."""

    def forward(self, x: Tensor) -> Tensor:
        out = Tensor._wrap(np.maximum(x.data, np.float32(0)))
        return out._attach(ReLUBackward(x)) if _records(x) else out


class Tanh(_Activation):
    """tanh(x) (differentiable; the course leaves it without a gradient)."""

    def forward(self, x: Tensor) -> Tensor:
        return x.tanh()


class GELU(_Activation):
    """x * sigmoid(1.702 x), the course's GELU."""

    def forward(self, x: Tensor) -> Tensor:
        out = Tensor._wrap(x.data * sigmoid_array(np.float32(GELU_SIGMOID_SCALE) * x.data))
        return out._attach(GELUBackward(x)) if _records(x) else out


class Softmax(_Activation):
    """exp(x) / sum(exp(x)) along ``dim``, shifted by the max so large inputs do not overflow."""

    def forward(self, x: Tensor, dim: int = -1) -> Tensor:
        e = np.exp(x.data - x.data.max(axis=dim, keepdims=True))
        out = Tensor._wrap(e / e.sum(axis=dim, keepdims=True))
        return out._attach(SoftmaxBackward(x, out, dim)) if _records(x) else out

    def __call__(self, x: Tensor, dim: int = -1) -> Tensor:
        return self.forward(x, dim)
