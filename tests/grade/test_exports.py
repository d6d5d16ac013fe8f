"""Gradebook CSV, Gradescope results.json, Markdown feedback and JUnit, from a hand-written report."""

from __future__ import annotations

import copy
import csv
import json
from pathlib import Path

import jsonschema
import pytest
from junitparser import Error, Failure, JUnitXml

from harness.report import csv as gradebook
from harness.report import feedback, gradescope, junit
from harness.report.formats import write_formats
from harness.report.model import Report
from tests.grade.sample_report import HOSTILE_STDERR, report_dict, sample_report

SCHEMA = json.loads((Path(__file__).parent / "gradescope_results.schema.json").read_text())


def test_gradebook_rows_points_status_and_categories(tmp_path):
    path = gradebook.write(sample_report(), tmp_path)
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["student", "mnist_mlp", "xor_crisis", "total", "max_total", "status",
                       "failure_category", "failed_extras", "hash"]
    assert [r[:8] for r in rows[1:]] == [
        ["alice", "10", "5", "15", "15", "passed", "", ""],
        ["bob", "0", "5", "5", "15", "failed", "failed", "mnist_mlp: failed"],
        ["mallory", "0", "0", "0", "15", "crashed", "crashed;failed",
         "mnist_mlp: crashed; xor_crisis: failed"],
    ]


def test_gradebook_neutralises_formulas_in_names(tmp_path):
    doc = report_dict()
    doc["submissions"][0]["name"] = "=HYPERLINK(\"http://x\")"
    rows = list(csv.reader(gradebook.render(Report.model_validate(doc)).splitlines()))
    assert rows[1][0] == "'=HYPERLINK(\"http://x\")"


def test_gradescope_results_validate_against_the_published_spec(tmp_path):
    folder = gradescope.write(sample_report(), tmp_path)
    documents = {p.parent.name: json.loads(p.read_text()) for p in folder.glob("*/results.json")}
    assert sorted(documents) == ["alice", "bob", "mallory"]
    for doc in documents.values():
        jsonschema.validate(doc, SCHEMA)
    bob = documents["bob"]
    assert bob["score"] == 5.0 and bob["execution_time"] == 25.0 and bob["stdout_visibility"] == "hidden"
    assert sum(t["score"] for t in bob["tests"]) == bob["score"]
    assert sum(t["max_score"] for t in bob["tests"]) == 15.0
    by_name = {t["name"]: t for t in bob["tests"]}
    assert by_name["mnist_mlp / test_accuracy"]["status"] == "failed"
    assert by_name["mnist_mlp / robustness"]["visibility"] == "after_published"
    xor = by_name["xor_crisis / mlp_solves_xor"]
    assert (xor["status"], xor["score"], xor["max_score"]) == ("passed", 5.0, 5.0)
    assert xor["visibility"] == "visible"
    mallory = {t["name"]: t for t in documents["mallory"]["tests"]}
    assert "ValueError: shapes" in mallory["mnist_mlp / test_accuracy"]["output"]
    assert HOSTILE_STDERR not in mallory["mnist_mlp / robustness"]["output"], "no stderr on a hidden test"


def test_the_schema_rejects_what_gradescope_would(tmp_path):
    doc = gradescope.results(sample_report(), sample_report().submissions[1])
    for broken in ({"status": "error"}, {"visibility": "students"}, {"score": "5"}, {"weight": 1}):
        bad = copy.deepcopy(doc)
        bad["tests"][0].update(broken)
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, SCHEMA)


def test_feedback_explains_failures_without_revealing_hidden_checks(tmp_path):
    folder = feedback.write(sample_report(), tmp_path)
    bob = (folder / "bob.md").read_text()
    assert "**Grade: 5 / 15 points**" in bob
    assert "`test_accuracy`: test_accuracy 0.91 < 0.950 required" in bob
    assert "harness check mnist_mlp --profile quick" in bob
    assert "1 hidden check (not shown)." in bob
    assert "robustness" not in bob and "noisy_accuracy" not in bob and "0.400" not in bob
    assert "| mnist_mlp | ❌ failed | 0/8 |" in bob and "| xor_crisis | ✅ passed | 5/5 |" in bob
    assert "harness check xor_crisis" not in bob, "no reproduce command for what passed"
    mallory = (folder / "mallory.md").read_text()
    assert "**The run did not finish normally:** exit code 1: ValueError: shapes" in mallory
    assert "```text\nTraceback (most recent call last):" in mallory
    alice = (folder / "alice.md").read_text()
    assert "Reproduce locally" not in alice and "**Grade: 15 / 15 points**" in alice


def test_junit_parses_with_a_junit_library(tmp_path):
    xml = JUnitXml.fromfile(str(junit.write(sample_report(), tmp_path)))
    suites = {suite.name: suite for suite in xml}
    assert sorted(suites) == sorted(f"{s}/{e}" for s in ("alice", "bob", "mallory")
                                    for e in ("mnist_mlp", "xor_crisis"))
    assert (xml.tests, xml.failures, xml.errors) == (9, 3, 2)
    bob_cases = {case.name: case for case in suites["bob/mnist_mlp"]}
    assert isinstance(bob_cases["test_accuracy"].result[0], Failure)
    mallory_cases = list(suites["mallory/mnist_mlp"])
    assert all(isinstance(case.result[0], Error) for case in mallory_cases)
    assert all(case.is_passed for case in suites["alice/mnist_mlp"])


def test_all_formats_register_and_write(tmp_path):
    written = write_formats(sample_report(), tmp_path, ["csv", "gradescope", "feedback", "html"])
    assert written["csv"].name == "gradebook.csv" and written["html"].name == "report.html"
    assert (written["gradescope"] / "mallory" / "results.json").is_file()
    assert (written["feedback"] / "alice.md").is_file() and written["json"].name == "report.json"
