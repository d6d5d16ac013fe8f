"""Layer base class and the basic layers: Linear, Dropout, Sequential, Flatten."""

from __future__ import annotations

import math

import numpy as np

from tinytorch.core.random import rng
from tinytorch.core.tensor import FLOAT, Tensor


class Layer:
    """Base of every layer: ``layer(x)`` calls ``forward``; parameters are found in attributes."""

    training = True

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must implement forward()")

    def parameters(self) -> list[Tensor]:
        """Every Tensor with requires_grad=True held by this layer or its sublayers, each once."""
        found: dict[int, Tensor] = {}
        _collect_parameters(vars(self).values(), found, seen=set())
        return list(found.values())

    def sublayers(self) -> list[Layer]:
        """Layers held directly in attributes (also inside lists, tuples and dicts)."""
        return [v for v in _walk(vars(self).values()) if isinstance(v, Layer)]

    def train(self, mode: bool = True) -> Layer:
        self.training = mode
        for layer in self.sublayers():
            layer.train(mode)
        return self

    def eval(self) -> Layer:
        return self.train(False)

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None


def _walk(values):
    """Yield values, descending into lists, tuples and dicts (not into layers)."""
    for v in values:
        if isinstance(v, (list, tuple)):
            yield from _walk(v)
        elif isinstance(v, dict):
            yield from _walk(v.values())
        else:
            yield v


def _collect_parameters(values, found: dict[int, Tensor], seen: set[int]) -> None:
    for v in _walk(values):
        if isinstance(v, Tensor):
            if v.requires_grad:
                found.setdefault(id(v), v)
        elif isinstance(v, Layer) and id(v) not in seen:
            seen.add(id(v))
            _collect_parameters(vars(v).values(), found, seen)


class Linear(Layer):
    """``y = x @ weight + bias`` with ``weight`` shaped (in_features, out_features).

    Initialised like PyTorch: weight and bias uniform in ±1/sqrt(in_features), from ``rng()``.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        if in_features <= 0 or out_features <= 0:
            raise ValueError(f"Linear({in_features}, {out_features}): sizes must be positive integers")
        self.in_features, self.out_features = int(in_features), int(out_features)
        bound = 1.0 / math.sqrt(in_features)
        self.weight = Tensor(_uniform(bound, (in_features, out_features)), requires_grad=True)
        self.bias = Tensor(_uniform(bound, (out_features,)), requires_grad=True) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        x = x if isinstance(x, Tensor) else Tensor(x)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(
                f"Linear({self.in_features}, {self.out_features}): input shape {x.shape} has last "
                f"dimension {x.shape[-1] if x.ndim else None}, expected {self.in_features}"
            )
        out = x @ self.weight
        return out + self.bias if self.bias is not None else out

    def __repr__(self) -> str:
        return f"Linear({self.in_features}, {self.out_features}, bias={self.bias is not None})"


def _uniform(bound: float, shape) -> np.ndarray:
    return rng().uniform(-bound, bound, size=shape).astype(FLOAT)


class Dropout(Layer):
    """Zero each element with probability ``p`` in training, scaling the rest by 1/(1-p).

    ``forward(x, training=None)`` follows ``self.training`` (train()/eval()) unless told otherwise.
    """

    def __init__(self, p: float = 0.5):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1], got {p}")
        self.p = float(p)

    def forward(self, x: Tensor, training: bool | None = None) -> Tensor:
        if not (self.training if training is None else training) or self.p == 0.0:
            return x
        if self.p == 1.0:
            return x * np.zeros(x.shape, dtype=FLOAT)
        keep = rng().random(x.shape, dtype=FLOAT) >= FLOAT(self.p)
        return x * (keep * FLOAT(1.0 / (1.0 - self.p)))

    def __repr__(self) -> str:
        return f"Dropout(p={self.p})"


class Sequential(Layer):
    """Apply layers in order. ``Sequential(a, b)`` or ``Sequential([a, b])``."""

    def __init__(self, *layers):
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        self.layers = list(layers)

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def __getitem__(self, index):
        return self.layers[index]

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self):
        return iter(self.layers)


class Flatten(Layer):
    """Flatten every dimension from ``start_dim`` on: (N, C, H, W) -> (N, C*H*W)."""

    def __init__(self, start_dim: int = 1):
        self.start_dim = start_dim

    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(self.start_dim)
