"""The probes assume no more than the course guarantees about ``requires_grad``.

In one 2026 state of the course (docs/course-api.md, "state A"), ``Linear`` creates its weight and
bias as plain Tensors and the optimizer turns ``requires_grad`` on. The probes use no optimizer,
so they mark the parameters themselves; a package written that way still gets exact gradients.
"""

from __future__ import annotations

from tinytorch.core.activations import ReLU, Sigmoid
from tinytorch.core.layers import Linear
from tinytorch.core.losses import BinaryCrossEntropyLoss, CrossEntropyLoss
from tinytorch.core.tensor import Tensor


class LateLinear(Linear):
    """A Linear whose parameters start without requires_grad, as in the 2026 course's state A."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for param in (self.weight, self.bias):
            param.requires_grad = False


def test_gradients_reach_parameters_created_without_requires_grad(probe_round_trip):
    score = probe_round_trip("linear_sigmoid_bce", Tensor, LateLinear, Sigmoid, BinaryCrossEntropyLoss)
    assert score.forward_max_error < 1e-5 and score.backward_max_error < 1e-4
    score = probe_round_trip("mlp_cross_entropy", Tensor, LateLinear, ReLU, CrossEntropyLoss)
    assert score.forward_max_error < 1e-5 and score.backward_max_error < 1e-4
