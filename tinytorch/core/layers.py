"""Layer base class and the course's layers (Linear, Dropout), plus Sequential and Flatten.

As in the course, every layer lists its own parameters in ``parameters()`` (the base returns
``[]``) and random initialisation draws from numpy's global generator (``np.random.seed``).
"""

from __future__ import annotations

import numpy as np

from tinytorch.core.activations import ReLU as ReLU  # noqa: F401 (the course's layers module has them)
from tinytorch.core.activations import Sigmoid as Sigmoid  # noqa: F401
from tinytorch.core.tensor import FLOAT, Tensor

XAVIER_SCALE_FACTOR = 1.0  # Linear weights: randn * sqrt(XAVIER_SCALE_FACTOR / in_features)
HE_SCALE_FACTOR = 2.0
DROPOUT_MIN_PROB = 0.0
DROPOUT_MAX_PROB = 1.0


class Layer:
    """Base of every layer: ``layer(x)`` calls ``forward(x)``; ``parameters()`` lists trainable Tensors."""

    def forward(self, x):
        raise NotImplementedError("Subclasses must implement forward()")

    def __call__(self, x, *args, **kwargs):
        return self.forward(x, *args, **kwargs)

    def parameters(self):
        return []

    def __repr__(self):
        return f"{self.__class__.__name__}()"


class Linear(Layer):
    """``y = x @ weight + bias``, ``weight`` (in_features, out_features), ``bias`` (out_features,).

    Initialised as the course: weight ``np.random.randn * sqrt(1 / in_features)``, bias zeros.
    """

    def __init__(self, in_features, out_features, bias=True):
        self.in_features = in_features
        self.out_features = out_features
        scale = np.sqrt(XAVIER_SCALE_FACTOR / in_features)
        self.weight = Tensor(np.random.randn(in_features, out_features) * scale, requires_grad=True)
        self.bias = Tensor(np.zeros(out_features), requires_grad=True) if bias else None

    def forward(self, x):
        x = x if isinstance(x, Tensor) else Tensor(x)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(
                f"Linear({self.in_features}, {self.out_features}): input shape {x.shape} has last "
                f"dimension {x.shape[-1] if x.ndim else None}, expected {self.in_features}"
            )
        out = x.matmul(self.weight)
        return out + self.bias if self.bias is not None else out

    def parameters(self):
        return [self.weight] if self.bias is None else [self.weight, self.bias]

    def __repr__(self):
        return (f"Linear(in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None})")


class Dropout(Layer):
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p), unless ``training=False``."""

    def __init__(self, p=0.5):
        if not DROPOUT_MIN_PROB <= p <= DROPOUT_MAX_PROB:
            raise ValueError(f"Dropout probability must be between {DROPOUT_MIN_PROB} and "
                             f"{DROPOUT_MAX_PROB}, got {p}")
        self.p = p

    def forward(self, x, training=True):
        if not training or self.p == DROPOUT_MIN_PROB:
            return x
        if self.p == DROPOUT_MAX_PROB:
            return x * np.zeros(x.shape, dtype=FLOAT)
        keep_prob = 1.0 - self.p
        mask = np.random.random(x.shape) < keep_prob
        return x * (mask * FLOAT(1.0 / keep_prob))

    def __repr__(self):
        return f"Dropout(p={self.p})"


class Sequential(Layer):
    """Apply ``layers`` in order (not in the course; its profiler and pruning walk ``.layers``)."""

    def __init__(self, *layers):
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        self.layers = list(layers)

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]


class Flatten(Layer):
    """Flatten every dimension from ``start_dim`` on: (N, C, H, W) -> (N, C*H*W) (not in the course)."""

    def __init__(self, start_dim: int = 1):
        self.start_dim = start_dim

    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(self.start_dim)
