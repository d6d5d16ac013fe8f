"""Report writers: atomic JSON that validates, JUnit XML with the right counts, Markdown notes."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET

import pytest

from harness.report import junit, markdown, writer
from harness.report.formats import write_formats
from harness.report.model import (
    CheckResult,
    ExtraResult,
    Machine,
    Provenance,
    Report,
    RunInfo,
    SubmissionResult,
    worst,
)


def check(name, verdict, score=0.0, max_score=1.0):
    return CheckResult(name=name, metric=name, value=0.5, rule=">= 0.900", verdict=verdict,
                       reason=f"{name} reason <&> \x07", score=score, max_score=max_score)


def extra(extra_id, verdict, checks, stderr=""):
    return ExtraResult(id=extra_id, title=extra_id, script=f"{extra_id}.py", profile="quick", verdict=verdict,
                       reason=f"{extra_id} | {verdict}", score=sum(c.score for c in checks),
                       max_score=sum(c.max_score for c in checks), checks=checks,
                       run=RunInfo(exit_code=0, wall_seconds=1.5, stdout_tail="out\x00put",
                                   stderr_tail=stderr))


def sample_report(hidden=False) -> Report:
    extras = [
        extra("good", "passed", [check("a", "passed", 1), check("b", "passed", 1)]),
        extra("weak", "failed", [check("c", "failed"), check("d", "failed", 0.5), check("e", "passed", 1)]),
        extra("boom", "crashed", [check("f", "crashed")], stderr="Traceback\nZeroDivisionError: x"),
        extra("slow", "timeout", [check("g", "timeout")]),
        extra("conv", "not_gradable", [check("h", "not_gradable")]),
    ]
    sub = SubmissionResult(name="alice", path="/x", hash="sha256:0", score=3.5, max_score=9,
                           status=worst(e.verdict for e in extras), extras=extras)
    provenance = Provenance(backend="local", criteria_hash="sha256:1", seed=1, profile="quick",
                            hidden_checks_included=hidden,
                            machine=Machine(cpus=2, platform="Linux", python="3.11"))
    return Report(harness_version="0.1.0", created_at="2026-11-27T01:02:03Z", provenance=provenance,
                  submissions=[sub])


def test_status_is_the_worst_verdict_by_contract_precedence():
    assert sample_report().submissions[0].status == "not_gradable"
    assert worst(["passed", "failed", "crashed"]) == "crashed"
    assert worst(["out_of_memory", "timeout"]) == "timeout"
    assert worst([]) == "passed"


def test_json_is_written_atomically_and_round_trips(tmp_path):
    report = sample_report()
    path = writer.write_json(report, tmp_path)
    assert path == tmp_path / "report.json"
    assert os.listdir(tmp_path) == ["report.json"]  # no temporary file left behind
    data = json.loads(path.read_text())
    assert data["schema_version"] == 1 and data["submissions"][0]["extras"][1]["checks"][1]["score"] == 0.5
    assert writer.read_report(path) == report


def test_failed_write_leaves_the_previous_report_intact(tmp_path, monkeypatch):
    writer.write_json(sample_report(), tmp_path)
    before = (tmp_path / "report.json").read_text()

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        writer.write_json(sample_report(hidden=True), tmp_path)
    assert (tmp_path / "report.json").read_text() == before
    assert os.listdir(tmp_path) == ["report.json"]


def test_report_json_validates_against_the_model_json_schema(tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    data = json.loads(writer.write_json(sample_report(), tmp_path).read_text())
    jsonschema.validate(data, Report.model_json_schema())
    data["submissions"][0]["status"] = "great"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, Report.model_json_schema())


def test_junit_parses_with_the_right_counts(tmp_path):
    path = junit.write(sample_report(), tmp_path)
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    assert {k: root.get(k) for k in ("tests", "failures", "errors", "skipped")} == {
        "tests": "8", "failures": "2", "errors": "2", "skipped": "1"}
    weak = root.find("testsuite[@name='alice/weak']")
    assert weak.get("failures") == "2" and len(weak.findall("testcase")) == 3
    failure = weak.find("testcase[@name='c']/failure")
    assert failure.get("message") == "c reason <&> " and failure.get("type") == "failed"
    boom = root.find("testsuite[@name='alice/boom']/testcase/error")
    assert boom.get("type") == "crashed" and "ZeroDivisionError: x" in boom.text
    assert root.find("testsuite[@name='alice/conv']/testcase/skipped") is not None
    assert root.find("testsuite[@name='alice/good']/system-out").text == "output"


def test_markdown_says_whether_hidden_checks_ran(tmp_path):
    without = markdown.render(sample_report(hidden=False))
    assert "**Hidden checks: not run**" in without
    assert "**Hidden checks: included**" in markdown.render(sample_report(hidden=True))
    assert "| weak | ❌ failed | 1.5/3 | 1.5 s | weak \\| failed |" in without
    assert "ZeroDivisionError: x" in without  # the crash's stderr tail is shown
    assert markdown.write(sample_report(), tmp_path).name == "summary.md"


def test_format_registry_writes_json_first_and_rejects_unknown(tmp_path):
    written = write_formats(sample_report(), tmp_path, ["junit", "markdown"])
    assert list(written) == ["json", "junit", "markdown"]
    assert all(p.is_file() for p in written.values())
    with pytest.raises(ValueError, match="unknown report format 'pdf'"):
        write_formats(sample_report(), tmp_path, ["pdf"])
