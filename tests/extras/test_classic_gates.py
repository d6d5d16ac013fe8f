"""The training-health gates and numerics probes the classic extras report (fast, no training)."""

from __future__ import annotations

import json

import numpy as np
import pytest


@pytest.fixture
def harness_helpers(tmp_path, monkeypatch, sandbox_helpers):
    """extras/_harness with a fresh metrics channel writing to a tmp $HARNESS_OUT."""
    monkeypatch.setenv("HARNESS_OUT", str(tmp_path))
    gates = sandbox_helpers("gates")
    probes = sandbox_helpers("probes")

    def reported() -> dict:
        lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
        return {r["name"]: r.get("value", r.get("values")) for r in map(json.loads, lines)}

    return gates, probes, reported


class Param:
    """A stand-in for a student's Tensor: .data and .grad only."""

    def __init__(self, data, grad=None):
        self.data, self.grad = np.asarray(data, dtype=np.float32), grad


def test_weight_change_is_relative_and_zero_for_a_frozen_layer(harness_helpers):
    gates, _, reported = harness_helpers
    moving, frozen = Param([[3.0, 4.0]]), Param([[1.0, 1.0]])
    before = gates.snapshot({"fc": moving, "conv": frozen})
    moving.data += np.float32([[0.0, 0.5]])  # |delta| 0.5 over |W| 5
    gates.report_weight_changes(before, {"fc": moving, "conv": frozen})
    metrics = reported()
    assert metrics["weight_change_fc"] == pytest.approx(0.1)
    assert metrics["weight_change_conv"] == 0.0 and metrics["min_weight_change"] == 0.0


def test_missing_gradient_counts_as_zero_and_tensor_grads_are_read(harness_helpers):
    gates, _, reported = harness_helpers
    assert gates.grad_norm(Param([1.0])) == 0.0
    assert gates.grad_norm(Param([1.0], grad=Param([3.0, 4.0]))) == pytest.approx(5.0)  # Tensor in .grad
    gates.report_first_layer_grad("fc1.weight", Param([1.0]))
    assert reported()["first_layer_grad_norm"] == 0.0


def test_loss_ratio_compares_last_tenth_to_first_tenth(harness_helpers):
    gates, _, reported = harness_helpers
    gates.report_loss_trend([2.0] * 10 + [1.0] * 80 + [0.5] * 10)
    assert reported()["loss_ratio"] == pytest.approx(0.25)


def test_probes_are_exact_on_the_reference_and_catch_a_wrong_sigmoid(probe_round_trip, monkeypatch):
    import tinytorch as tt
    from tinytorch.core.spatial import Conv2d, MaxPool2d

    for seed in range(3):  # sizes are drawn too: several shapes per probe
        for score in (probe_round_trip("linear_sigmoid_bce", tt.Tensor, tt.Linear, tt.Sigmoid,
                                       tt.BinaryCrossEntropyLoss, seed=seed),
                      probe_round_trip("mlp_cross_entropy", tt.Tensor, tt.Linear, tt.ReLU,
                                       tt.CrossEntropyLoss, seed=seed),
                      probe_round_trip("conv_pool_cross_entropy", tt.Tensor, Conv2d, MaxPool2d, tt.ReLU,
                                       tt.Linear, tt.CrossEntropyLoss, seed=seed)):
            assert score.forward_max_error < 1e-5 and score.backward_max_error < 1e-5, score
    monkeypatch.setattr(tt.Sigmoid, "forward", lambda self, x: x.tanh())  # a "sigmoid" that is tanh
    score = probe_round_trip("linear_sigmoid_bce", tt.Tensor, tt.Linear, tt.Sigmoid,
                             tt.BinaryCrossEntropyLoss)
    assert score.forward_max_error > 0.1 and score.forward_reason.startswith("worst output: ")


def test_the_xor_probe_checks_tanh_and_names_a_tanh_without_gradient(probe_round_trip, monkeypatch):
    import tinytorch as tt

    score = probe_round_trip("mlp_tanh_bce", tt.Tensor, tt.Linear, tt.Tanh, tt.Sigmoid,
                             tt.BinaryCrossEntropyLoss)
    assert score.forward_max_error < 1e-5 and score.backward_max_error < 1e-5, score
    real_tanh = tt.Tanh.forward
    monkeypatch.setattr(tt.Tanh, "forward", lambda self, x: tt.Tensor(real_tanh(self, x).data))  # cut off
    score = probe_round_trip("mlp_tanh_bce", tt.Tensor, tt.Linear, tt.Tanh, tt.Sigmoid,
                             tt.BinaryCrossEntropyLoss)
    assert score.forward_max_error < 1e-5  # the values are right ...
    assert score.backward_max_error == float("inf")  # ... but no gradient reaches the first layer
    assert "no gradient for `grad.w1`" in score.backward_reason


def test_a_missing_gradient_is_named_in_the_reason(probe_round_trip, monkeypatch):
    import tinytorch as tt

    monkeypatch.setattr(tt.Tensor, "backward", lambda self, *args, **kwargs: None)  # backward does nothing
    score = probe_round_trip("mlp_cross_entropy", tt.Tensor, tt.Linear, tt.ReLU, tt.CrossEntropyLoss)
    assert score.backward_max_error == float("inf")
    assert "no gradient for `grad.w1`" in score.backward_reason and "requires_grad" in score.backward_reason
