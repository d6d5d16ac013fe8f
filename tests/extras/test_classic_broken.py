"""Broken submissions (a copy of the reference with one bug) fail the right check for the right reason."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from tests.extras.conftest import REPO


@pytest.fixture
def broken(tmp_path):
    """broken(name, module, code) -> a copy of the reference tinytorch with ``code`` appended to ``module``.

    Appending monkeypatches keeps the bug independent of how the reference is written inside.
    """

    def make(name: str, module: str, code: str) -> Path:
        root = tmp_path / name
        shutil.copytree(REPO / "tinytorch", root / "tinytorch", ignore=shutil.ignore_patterns("__pycache__"))
        with open(root / "tinytorch" / module, "a", encoding="utf-8") as handle:
            handle.write("\n\n" + textwrap.dedent(code))
        return root

    return make


def check(extra, name):
    return next(c for c in extra.checks if c.name == name)


WRONG_LINEAR_BACKWARD = """
    def _linear_forward(self, x):
        x = x if isinstance(x, Tensor) else Tensor(x)
        w, b = self.weight, self.bias

        def backward(g):  # BUG: the bias gradient is averaged over the batch instead of summed
            return g @ w.data.T, x.data.T @ g, g.mean(axis=0)

        return Tensor._from_op(x.data @ w.data + b.data, (x, w, b), backward, "linear")


    Linear.forward = _linear_forward
"""


def test_wrong_linear_backward_fails_backward_numerics(run_extra, broken):
    extra = run_extra("perceptron", broken("wrong_backward", "core/layers.py", WRONG_LINEAR_BACKWARD))
    assert extra.verdict == "failed"
    failed = check(extra, "backward_numerics")
    assert failed.verdict == "failed"
    assert failed.reason.startswith("backward_max_error") and "allowed" in failed.reason
    assert failed.value > 0.1
    assert check(extra, "forward_numerics").verdict == "passed"


FROZEN_CONV = """
    def _bias_only(self):  # BUG: the filters are left out of the optimizer, so they never change
        return [self.bias]


    Conv2d.parameters = _bias_only
"""


def test_frozen_conv_fails_weight_change_even_when_the_head_learns(run_extra, broken, classic_data):
    extra = run_extra("cifar10_cnn", broken("frozen_conv", "core/spatial.py", FROZEN_CONV))
    assert extra.verdict == "failed"
    for name, metric in (("conv1_weights_move", "weight_change_conv1"), ("conv2_weights_move",
                                                                          "weight_change_conv2")):
        result = check(extra, name)
        assert result.verdict == "failed" and result.value == 0.0
        assert result.reason == f"{metric} 0.000 < 0.010 required"
    assert check(extra, "trained_from_given_start").verdict == "passed"
    assert extra.metrics["weight_change_fc1"] > 0.01  # the head did train (the script's own report)


NUMPY_LOSS = """
    import numpy as _np


    def _numpy_cross_entropy(self, logits, targets):  # BUG: computed in numpy, wrapped in a new Tensor
        z = logits.data - logits.data.max(axis=1, keepdims=True)
        log_p = z - _np.log(_np.exp(z).sum(axis=1, keepdims=True))
        ids = _np.asarray(getattr(targets, "data", targets)).astype(int)
        return Tensor(-log_p[_np.arange(len(ids)), ids].mean(), requires_grad=True)


    CrossEntropyLoss.forward = _numpy_cross_entropy
"""


def test_loss_cut_from_the_graph_fails_the_gradient_check(run_extra, broken, classic_data):
    extra = run_extra("mnist_mlp", broken("numpy_loss", "core/losses.py", NUMPY_LOSS))
    assert extra.verdict == "failed"
    gradient = check(extra, "gradient_reaches_first_layer")
    assert gradient.verdict == "failed" and gradient.value == 0.0
    assert gradient.reason.startswith("first_layer_weight_change 0.000 < 0.001 required (`fc1.weight` never "
                                      "moved: no gradient reached it")
    assert check(extra, "weights_move").verdict == "failed"
    assert check(extra, "forward_numerics").verdict == "passed"  # the loss VALUE is right


CHEATING_LINEAR = """
    _linear_forward = Linear.forward


    def _forward_with_a_hidden_product(self, x):  # CHEAT: not linear, a hidden x0*x1 feature
        out = _linear_forward(self, x)
        if self.in_features == 2:
            out = out + x[:, 0:1] * x[:, 1:2] * -4.0
        return out


    Linear.forward = _forward_with_a_hidden_product
"""


def test_single_layer_that_solves_xor_fails(run_extra, broken):
    extra = run_extra("xor_crisis", broken("xor_cheat", "core/layers.py", CHEATING_LINEAR))
    assert extra.verdict == "failed"
    cheat = check(extra, "single_layer_cannot_solve_xor")
    assert cheat.verdict == "failed" and cheat.value == 1.0
    assert cheat.reason == "single_layer_best_accuracy 1.000 > 0.750 allowed"
    # The host evaluates the MLP's exported weights as the course's Linear: the hidden product
    # makes the student's own outputs disagree with that evaluation.
    mlp = check(extra, "mlp_solves_xor")
    assert mlp.verdict == "failed" and "architecture mismatch" in mlp.reason
