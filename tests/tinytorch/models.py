"""Small models the perf tests share."""

from __future__ import annotations


class LayerMLP:
    """A course-style model: plain object with ``.layers``, ``forward`` and ``parameters``
    (the course has no ``Sequential``; its profiler, pruning and quantization walk ``.layers``)."""

    def __init__(self, *layers):
        self.layers = list(layers)

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def __call__(self, x):
        return self.forward(x)

    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]
