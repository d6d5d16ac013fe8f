"""Why did it fail? The diagnosis job (extras/_diagnose.py, judged by harness/evidence/diagnosis.py)
on copies of the course-style fixture with one bug each, through the real engine and local runner.

The course's own published solution fails xor_crisis because its `Tanh` passes no gradient; the
first copy below stands in for it. Each run is the quick profile; the diagnosis job adds about a
second (measured 0.6-1.0 s for the twelve components of the classic extras on this fixture).
"""

from __future__ import annotations

import re

import pytest

from harness.criteria import Rule, load_all
from harness.engine import Submission
from harness.pipeline import run_checks
from harness.report import feedback, gradescope, html
from harness.report.terminal import make_console, print_summary
from harness.runners.local import LocalRunner
from tests.extras.conftest import COURSE, REPO

pytestmark = pytest.mark.slow

TANH = "`tinytorch.core.activations.Tanh`: backward gives no gradient (expected 1 − tanh²)"


def run(criterion, root, name=None):
    submission = Submission(name=name or root.name, root=root)
    return run_checks([criterion], [submission], runner=LocalRunner(), extras_dir=REPO / "extras",
                      profile="quick")


def criterion(criterion_id):
    return load_all(REPO / "criteria")[criterion_id]


def test_xor_crisis_with_the_courses_tanh_bug_names_tanh_in_every_report(course_copy, capsys):
    broken = course_copy("tanh_no_gradient", "core/autograd.py",
                         [("return (grad_output * (1 - t * t),)", "return (None,)  # BUG")])
    report = run(criterion("xor_crisis"), broken)
    extra = report.submissions[0].extras[0]
    assert extra.verdict == "failed"
    assert extra.diagnosis.component == "tinytorch.core.activations.Tanh"
    assert extra.diagnosis.summary.startswith(TANH), extra.diagnosis.summary
    assert extra.diagnosis.faulty == ["tinytorch.core.activations.Tanh"]  # nothing else is blamed
    sub = report.submissions[0]
    assert TANH.replace("`", "&#96;") in feedback.render(report, sub)
    assert TANH in gradescope.results(report, sub)["output"]
    assert "backward gives no gradient (expected 1 − tanh²)" in html.render(report)
    assert report.model_dump()["submissions"][0]["extras"][0]["diagnosis"]["component"].endswith(".Tanh")
    print_summary(report, make_console())
    assert "xor_crisis: diagnosis: " + TANH in capsys.readouterr().out


def test_mnist_mlp_with_a_broken_relu_backward_names_relu(course_copy, classic_data):
    broken = course_copy("relu_gradient_everywhere", "core/autograd.py", [
        ("return (grad_output * (x.data > 0).astype(np.float32),)", "return (grad_output,)  # BUG")])
    extra = run(criterion("mnist_mlp"), broken).submissions[0].extras[0]
    assert extra.verdict == "failed"
    assert extra.diagnosis.summary.startswith(
        "`tinytorch.core.activations.ReLU`: backward is off by"), extra.diagnosis.summary
    assert "expected grad_output where x > 0, else 0" in extra.diagnosis.summary


def test_mnist_mlp_with_the_loss_cut_from_the_graph_names_cross_entropy(course_copy, classic_data):
    broken = course_copy("cross_entropy_untracked", "core/autograd.py", [
        ("        CrossEntropyLoss.forward = ce_forward\n", "        pass  # BUG: the loss is untracked\n")])
    extra = run(criterion("mnist_mlp"), broken).submissions[0].extras[0]
    assert extra.verdict in ("failed", "crashed")
    # the loss's gradient never reaches the logits: named, with what it should have been
    assert extra.diagnosis.summary.startswith(
        "`tinytorch.core.losses.CrossEntropyLoss`: backward (gradient of the logits) gives no gradient "
        "(expected (softmax(z) − one_hot(target)) / N)"), extra.diagnosis.summary


def test_cifar10_cnn_with_a_flipped_conv_weight_gradient_names_conv2d(course_copy, classic_data):
    broken = course_copy("conv_weight_grad_flipped", "core/spatial.py", [
        ("grad_w.reshape(self.weight.data.shape)]",
         "grad_w.reshape(self.weight.data.shape)[:, :, ::-1, ::-1]]  # BUG")])
    extra = run(criterion("cifar10_cnn"), broken).submissions[0].extras[0]
    assert extra.verdict == "failed"
    assert extra.diagnosis.summary.startswith(
        "`tinytorch.core.spatial.Conv2d`: backward (weight gradient) is off by"), extra.diagnosis.summary


def test_a_correct_package_failing_a_tightened_criterion_isolates_nothing():
    strict = criterion("xor_crisis")
    checks = [c.model_copy(update={"rule": Rule(min=1.5)}) if c.name == "mlp_solves_xor" else c
              for c in strict.checks]  # accuracy can never reach 1.5: a forced failure
    strict = strict.model_copy(update={"checks": checks})
    extra = run(strict, COURSE).submissions[0].extras[0]
    assert extra.verdict == "failed"
    assert extra.diagnosis.component is None
    assert re.match(r"no single component could be isolated: Tensor, Linear, ReLU, Sigmoid, Tanh, GELU, "
                    r"Softmax, MSELoss, BinaryCrossEntropyLoss, CrossEntropyLoss, SGD, Adam agree with numpy",
                    extra.diagnosis.summary), extra.diagnosis.summary


def test_a_passing_extra_runs_no_diagnosis():
    extra = run(criterion("xor_crisis"), COURSE).submissions[0].extras[0]
    assert extra.verdict == "passed" and extra.diagnosis is None
