"""Failure diagnosis on the host: components behind a criterion, judging the probes' evidence,
the diagnosis in every report format, and non-finite self-reported metrics that explain themselves.
The sandbox side (extras/_diagnose.py on real packages) is tested in tests/extras/test_diagnosis_course.py."""

from __future__ import annotations

import json

import numpy as np
import pytest

from harness.evidence import diagnosis as dx
from harness.judging.metrics import parse_metrics
from harness.report import feedback, gradescope, html, markdown
from harness.report.model import Diagnosis, ExtraResult, Report

XOR_REQUIRES = ["tinytorch.core.tensor", "tinytorch.core.layers", "tinytorch.core.activations",
                "tinytorch.core.losses", "tinytorch.core.optimizers"]


def test_components_follow_the_criterion_requires():
    names = dx.components_for(XOR_REQUIRES)
    assert names == ["Tensor", "Linear", "ReLU", "Sigmoid", "Tanh", "GELU", "Softmax", "MSELoss",
                     "BinaryCrossEntropyLoss", "CrossEntropyLoss", "SGD", "Adam"]
    assert "Conv2d" in dx.components_for(["tinytorch.core.spatial"])
    assert {"LayerNorm", "MultiHeadAttention"} <= set(
        dx.components_for(["tinytorch.core.transformers|tinytorch.core.transformer"]))
    used = dx.used_by("from tinytorch.core.activations import Sigmoid, Tanh\nAdam(...)", names)
    assert used == {"Tensor", "Sigmoid", "Tanh", "Adam"}


def correct_evidence(names: list[str], drawn: dict) -> dict[str, np.ndarray]:
    """What a correct package records: every expected array (and causal outputs that agree)."""
    evidence: dict[str, np.ndarray] = {}
    for name in names:
        prefix = f"diag.{name}."
        evidence[prefix + "status"] = np.array(dx.RAN)
        for expect in dx.COMPONENTS[name].expects(drawn[name]):
            evidence[prefix + expect.key] = expect.reference
        if "cut" in drawn[name]:  # causal: what comes before the cut does not change
            evidence.setdefault(prefix + "masked", np.ones((1, 4, 3)))
            evidence[prefix + "masked_changed"] = evidence[prefix + "masked"].copy()
            evidence[prefix + "masked_changed"][:, int(drawn[name]["cut"]):] += 1.0
    return evidence


def draw(names):
    return dx.prepare(np.random.default_rng(3), names)[1]


def test_a_correct_package_isolates_nothing_and_says_so():
    names = dx.components_for(XOR_REQUIRES + ["tinytorch.core.spatial", "tinytorch.core.transformer"])
    drawn = draw(names)
    found = dx.judge(names, drawn, correct_evidence(names, drawn), set(names))
    assert found.component is None
    assert found.summary.startswith("no single component could be isolated: Tensor, Linear, ReLU")
    assert all(f.status == "ok" for f in found.findings)


def test_tanh_without_gradient_is_named_with_the_expected_derivative():
    names = dx.components_for(XOR_REQUIRES)
    drawn = draw(names)
    evidence = correct_evidence(names, drawn)
    del evidence["diag.Tanh.grad.x"]
    found = dx.judge(names, drawn, evidence, {"Tensor", "Tanh", "Sigmoid"})
    assert found.component == "tinytorch.core.activations.Tanh"
    assert found.summary.startswith("`tinytorch.core.activations.Tanh`: backward gives no gradient "
                                    "(expected 1 − tanh²)")


@pytest.mark.parametrize(("change", "expected"), [
    (lambda e: e.__setitem__("diag.ReLU.grad.x", np.zeros_like(e["diag.ReLU.grad.x"])),
     "`tinytorch.core.activations.ReLU`: backward gives a zero gradient"),
    (lambda e: e.__setitem__("diag.Sigmoid.out", e["diag.Sigmoid.out"] * np.nan),
     "`tinytorch.core.activations.Sigmoid`: forward holds"),
    (lambda e: e.__setitem__("diag.Adam.after2", e["diag.Adam.after1"]),
     "`tinytorch.core.optimizers.Adam`: `step()` (second) is off by"),
    (lambda e: e.update({"diag.Linear.status": np.array(dx.RAISED),
                         "diag.Linear.error": np.frombuffer(b"ValueError: shapes", np.uint8)}),
     "`tinytorch.core.layers.Linear`: raised ValueError: shapes on the grader's small inputs"),
])
def test_other_faults_name_their_component(change, expected):
    names = dx.components_for(XOR_REQUIRES)
    drawn = draw(names)
    evidence = correct_evidence(names, drawn)
    change(evidence)
    found = dx.judge(names, drawn, evidence, set(names))
    assert found.summary.startswith(expected), found.summary


def test_a_missing_component_is_skipped_not_blamed_and_an_unused_fault_is_not_the_culprit():
    names = dx.components_for(XOR_REQUIRES)
    drawn = draw(names)
    evidence = correct_evidence(names, drawn)
    evidence["diag.GELU.status"] = np.array(dx.ABSENT)
    evidence["diag.Softmax.grad.x"] = evidence["diag.Softmax.grad.x"] + 1.0
    found = dx.judge(names, drawn, evidence, {"Tensor", "Linear", "Tanh"})
    assert found.component is None
    assert "not in the package, skipped: GELU" in found.summary
    assert "`tinytorch.core.activations.Softmax` backward is off by" in found.summary
    assert "(not used by this extra)" in found.summary


def test_attention_that_peeks_ahead_is_not_causal():
    names = ["scaled_dot_product_attention"]
    drawn = draw(names)
    evidence = correct_evidence(names, drawn)
    evidence["diag.scaled_dot_product_attention.masked_changed"] += 1.0  # earlier positions moved too
    found = dx.judge(names, drawn, evidence, set(names))
    assert "is not causal" in found.summary
    assert found.component == "tinytorch.core.attention.scaled_dot_product_attention"


def extra_with_diagnosis(summary: str, component: str | None) -> ExtraResult:
    return ExtraResult(id="xor_crisis", title="XOR", script="01_xor_crisis.py", profile="quick",
                       verdict="failed", reason="hidden barely moved", score=0, max_score=1,
                       run={}, diagnosis=Diagnosis(component=component, summary=summary))


def report_of(extra: ExtraResult) -> Report:
    return Report.model_validate({
        "harness_version": "0", "created_at": "2026-01-01T00:00:00Z",
        "provenance": {"backend": "local", "criteria_hash": "x", "seed": 1337, "profile": "quick",
                       "hidden_checks_included": False,
                       "machine": {"cpus": 1, "platform": "linux", "python": "3"}},
        "submissions": [{"name": "alice", "path": "/x", "hash": "h", "score": 0, "max_score": 1,
                         "status": extra.verdict, "extras": [extra.model_dump()]}]})


def test_the_diagnosis_appears_in_every_report_format():
    line = "`tinytorch.core.activations.Tanh`: backward gives no gradient (expected 1 − tanh²)"
    report = report_of(extra_with_diagnosis(line, "tinytorch.core.activations.Tanh"))
    sub = report.submissions[0]
    shown = line.replace("`", "&#96;")  # Markdown text is escaped (the summary may quote the student)
    assert f"**Why it most likely failed:** {shown}" in feedback.render(report, sub)
    assert line in gradescope.results(report, sub)["output"]
    page = html.render(report)
    assert "backward gives no gradient (expected 1 − tanh²)" in page
    assert 'data-diagnosis="tinytorch.core.activations.Tanh"' in page
    assert "**Diagnosis:**" in markdown.render(report)
    assert json.loads(report.model_dump_json())["submissions"][0]["extras"][0]["diagnosis"]["component"] \
        == "tinytorch.core.activations.Tanh"


def test_a_report_without_a_diagnosis_still_loads():
    extra = extra_with_diagnosis("x", None).model_dump()
    del extra["diagnosis"]
    assert ExtraResult.model_validate(extra).diagnosis is None


def test_a_non_finite_self_reported_metric_says_what_was_tried(tmp_path):
    (tmp_path / "metrics.jsonl").write_text(
        '{"kind": "scalar", "name": "loss_ratio", "value": NaN, "note": "the loss became nan at step 3"}\n'
        '{"kind": "scalar", "name": "first_layer_grad_norm", "value": Infinity}\n')
    parsed = parse_metrics(tmp_path)
    assert parsed.metric_problems["loss_ratio"] == ("metric loss_ratio is nan (not a finite number): "
                                                    "the loss became nan at step 3")
    assert "the script recorded no cause" in parsed.metric_problems["first_layer_grad_norm"]


def test_the_diagnosis_budget_is_scaled_to_this_machine(monkeypatch):
    """Its 60 s are stated on the project's reference machine, like any reference_machine budget."""
    from harness import diagnose

    monkeypatch.setenv("HARNESS_SPEED_FACTOR", "2.5")
    assert diagnose._scaled(diagnose.BUDGET).wall_seconds == pytest.approx(150)
    monkeypatch.setenv("HARNESS_SPEED_FACTOR", "0.5")
    scaled = diagnose._scaled(diagnose.BUDGET)
    assert scaled.wall_seconds == pytest.approx(30) and scaled.memory_mib == diagnose.BUDGET.memory_mib
