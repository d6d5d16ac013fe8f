"""A multi-layer perceptron in the course's model shape: layers kept in a ``.layers`` list.

The course has no ``Sequential``; its profiler, pruning and quantization walk ``model.layers``
(the notebooks' ``SimpleModel``). The extras build such a model from the student's ``Linear``
and activation classes, passed in, so this module imports nothing of the student's package.
"""

from __future__ import annotations


class LayerMLP:
    """``sizes[0] -> ... -> sizes[-1]``: a ``Linear`` per step, an ``activation()`` between them."""

    def __init__(self, sizes, Linear, activation):
        self.layers = []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            self.layers.append(Linear(n_in, n_out))
            if i < len(sizes) - 2:
                self.layers.append(activation())

    def forward(self, x):
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def __call__(self, x):
        return self.forward(x)

    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]

    def linears(self):
        """The layers that hold a weight matrix, in order."""
        return [layer for layer in self.layers if hasattr(layer, "weight")]
