"""``harness diff``: regressions, improvements and metric deltas between two reports."""

from __future__ import annotations

import json

from harness.cli import main
from harness.diff import compare, render_markdown
from harness.report.model import Report
from tests.grade.sample_report import report_dict


def _write(path, doc) -> str:
    path.write_text(json.dumps(doc))
    return str(path)


def _new_report() -> dict:
    """bob's mnist now passes; alice's xor regresses; mallory is gone; a metric moves."""
    doc = report_dict()
    alice, bob, _ = doc["submissions"]
    xor = alice["extras"][1]
    xor.update(verdict="failed", score=0.0, reason="mlp_accuracy 0.750 < 1.000 required")
    xor["checks"][0].update(verdict="failed", score=0.0)
    alice["extras"][0]["metrics"]["test_accuracy"] = 0.975
    mnist = bob["extras"][0]
    mnist.update(verdict="passed", score=10.0)
    for check in mnist["checks"]:
        check.update(verdict="passed", score=check["max_score"])
    doc["submissions"] = [alice, bob]
    return doc


def test_compare_finds_regressions_improvements_and_metric_deltas():
    diff = compare(Report.model_validate(report_dict()), Report.model_validate(_new_report()))
    assert [(c.submission, c.extra) for c in diff.regressions] == [("mallory", ""), ("alice", "xor_crisis")]
    alice_xor = diff.regressions[1].what
    assert "verdict passed → failed" in alice_xor and "score 5 → 0 of 5" in alice_xor
    assert "check mlp_solves_xor passed → failed" in alice_xor
    [improvement] = diff.improvements
    assert (improvement.submission, improvement.extra) == ("bob", "mnist_mlp")
    assert "check robustness failed → passed" in improvement.what
    [delta] = diff.metrics
    assert (delta.submission, delta.metric, delta.old, delta.new) == ("alice", "test_accuracy", 0.97, 0.975)


def test_identical_reports_have_no_changes_and_exit_0(tmp_path, capsys):
    old = _write(tmp_path / "old.json", report_dict())
    assert main(["diff", old, old]) == 0
    assert capsys.readouterr().out.startswith("harness diff: 0 regressions, 0 improvements")


def test_cli_exits_1_on_regression_and_writes_markdown(tmp_path):
    old = _write(tmp_path / "old.json", report_dict())
    new = _write(tmp_path / "new.json", _new_report())
    out = tmp_path / "diff.md"
    assert main(["diff", old, new, "--format", "markdown", "-o", str(out)]) == 1
    text = out.read_text()
    assert text.startswith("### harness diff: 2 regressions, 1 improvement\n")
    assert "| 🔻 | alice | xor_crisis | verdict passed → failed;" in text
    assert "| 🟢 | bob | mnist_mlp |" in text
    assert "| alice | mnist_mlp | test_accuracy | 0.97 | 0.975 | +0.005 |" in text
    assert main(["diff", new, old]) == 1, "mallory appears and alice's xor improves, but bob regresses"


def test_single_submission_reports_compare_across_names():
    old, new = report_dict(), report_dict()
    old["submissions"] = old["submissions"][:1]
    new["submissions"] = new["submissions"][2:]
    new["submissions"][0]["name"] = "pr-checkout"
    diff = compare(Report.model_validate(old), Report.model_validate(new))
    assert "comparing submission alice (old) with pr-checkout (new)" in diff.notes
    assert {c.extra for c in diff.regressions} == {"mnist_mlp", "xor_crisis"}
    assert "regression" in render_markdown(diff)


def test_bad_report_is_a_clear_usage_error(tmp_path, capsys):
    good = _write(tmp_path / "old.json", report_dict())
    bad = _write(tmp_path / "bad.json", {"schema_version": 1, "submissions": []})
    assert main(["diff", good, bad]) == 2
    err = capsys.readouterr().err
    assert f"NEW report {bad}: not a harness report.json" in err and "harness_version" in err
    assert main(["diff", str(tmp_path / "missing.json"), good]) == 2
    assert "cannot read it" in capsys.readouterr().err
