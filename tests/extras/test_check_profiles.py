"""`profiles: [full]` on a check: validated, and a check outside the run's profile is not judged or scored."""

from __future__ import annotations

import json

import pytest

from harness.criteria import CriteriaError, load_criterion
from harness.judging.verdicts import judge
from harness.runners.base import RunResult

HEAD = """id: x
title: t
script: x.py
milestone: m
profiles:
  full: {expected_seconds: 1, budget: {wall_seconds: 10, memory_mib: 100}}
  quick: {expected_seconds: 1, budget: {wall_seconds: 10, memory_mib: 100}}
checks:
  - name: always
    metric: loss
    source: self-reported
    trust: self-reported
    rule: {max: 1.0}
    points: 2
"""


def criterion(tmp_path, extra_check: str):
    path = tmp_path / "x.yaml"
    path.write_text(HEAD + extra_check, encoding="utf-8")
    return load_criterion(path, "x.yaml")


FULL_ONLY = """  - name: answers
    metric: rate
    source: self-reported
    trust: self-reported
    rule: {min: 0.2}
    profiles: [full]
    points: 6
"""


def run_with(tmp_path, metrics: dict) -> RunResult:
    out = tmp_path / "out"
    out.mkdir()
    lines = [json.dumps({"kind": "scalar", "name": k, "value": v}) for k, v in metrics.items()]
    (out / "metrics.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return RunResult(job_id="j", exit_code=0, out_dir=out)


def test_a_full_only_check_is_left_out_of_a_quick_run(tmp_path):
    crit = criterion(tmp_path, FULL_ONLY)
    run = run_with(tmp_path, {"loss": 0.5, "rate": 0.0})
    result = judge(crit, "quick", run, tmp_path, include_hidden=False)
    assert [c.name for c in result.checks] == ["always"]
    assert (result.verdict, result.reason) == ("passed", "the check passed")
    assert (result.score, result.max_score) == (2, 2)


def test_a_full_only_check_is_judged_in_a_full_run(tmp_path):
    crit = criterion(tmp_path, FULL_ONLY)
    run = run_with(tmp_path, {"loss": 0.5, "rate": 0.0})
    result = judge(crit, "full", run, tmp_path, include_hidden=False)
    assert [c.name for c in result.checks] == ["always", "answers"]
    assert (result.verdict, result.reason) == ("failed", "rate 0.000 < 0.200 required")
    assert (result.score, result.max_score) == (2, 8)


def test_not_started_runs_list_only_the_profiles_checks(tmp_path):
    crit = criterion(tmp_path, FULL_ONLY)
    result = judge(crit, "quick", None, tmp_path, include_hidden=False, skipped="lacks x")
    assert [c.name for c in result.checks] == ["always"] and result.max_score == 2


def test_points_per_profile(tmp_path):
    crit = criterion(tmp_path, FULL_ONLY)
    assert (crit.max_score_for("quick"), crit.max_score_for("full"), crit.max_score) == (2, 8, 8)
    assert [c.name for c in crit.checks_for("quick")] == ["always"]


@pytest.mark.parametrize("check, error", [
    ("    profiles: [fast]\n", "x.yaml:20: checks[1].profiles[0]: Input should be 'full' or 'quick'"),
    ("    profiles: []\n",
     "x.yaml:20: checks[1].profiles: List should have at least 1 item after validation, not 0"),
    ("    profiles: [full, full]\n",
     "x.yaml:15: checks[1]: profiles lists a profile twice: ['full', 'full']"),
    ("    profiles: [full]\n    profile_rules: {quick: {min: 0.0}}\n",
     "x.yaml:15: checks[1]: profile_rules.quick: the check does not apply to quick (profiles: full)"),
])
def test_profiles_are_validated(tmp_path, check, error):
    with pytest.raises(CriteriaError) as excinfo:
        criterion(tmp_path, "  - name: answers\n    metric: rate\n    source: self-reported\n"
                  "    trust: self-reported\n    rule: {min: 0.2}\n" + check)
    assert excinfo.value.problems == [error]


def test_every_profile_keeps_at_least_one_check(tmp_path):
    path = tmp_path / "x.yaml"
    text = HEAD.replace("    points: 2\n", "    points: 2\n    profiles: [quick]\n")
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CriteriaError) as excinfo:
        load_criterion(path, "x.yaml")
    assert excinfo.value.problems == [
        "x.yaml:8: checks: no check applies to the full profile; every profile needs at least one "
        "(see each check's profiles)"]
