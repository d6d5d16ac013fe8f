"""The four classic extras pass their quick profile under the harness on the reference package."""

from __future__ import annotations


def passed(extra) -> dict:
    """Assert the extra passed every check; return its metrics."""
    failing = {c.name: c.reason for c in extra.checks if c.verdict != "passed"}
    assert extra.verdict == "passed", f"{extra.id}: {extra.reason}; {failing}\n{extra.run.stderr_tail}"
    assert extra.score == extra.max_score > 0
    return extra.metrics


def test_perceptron_quick_passes(run_extra):
    metrics = passed(run_extra("perceptron"))
    assert metrics["heldout_accuracy"] >= 0.98
    assert metrics["forward_max_error"] < 1e-6 and metrics["backward_max_error"] < 1e-5


def test_xor_crisis_quick_passes(run_extra):
    metrics = passed(run_extra("xor_crisis"))
    assert metrics["single_layer_best_accuracy"] <= 0.75
    assert metrics["mlp_accuracy"] == 1.0


def test_mnist_mlp_quick_passes_and_is_scored_on_the_host(run_extra, classic_data):
    extra = run_extra("mnist_mlp")
    metrics = passed(extra)
    check = next(c for c in extra.checks if c.name == "test_accuracy")
    assert check.rule == ">= 0.850" and 0.85 <= check.value <= 1.0
    assert metrics["min_weight_change"] > 0.01 and metrics["loss_ratio"] < 0.5


def test_cifar10_cnn_quick_passes_and_is_scored_on_the_host(run_extra, classic_data):
    extra = run_extra("cifar10_cnn")
    metrics = passed(extra)
    check = next(c for c in extra.checks if c.name == "test_accuracy")
    assert check.rule == ">= 0.120" and 0.12 <= check.value < 0.9
    assert metrics["weight_change_conv1"] > 0.01 and metrics["first_layer_grad_norm"] > 0
