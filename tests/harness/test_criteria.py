"""Criteria YAML: valid files load; every mistake is reported as file:line: field: expectation."""

from __future__ import annotations

import textwrap

import pytest

from harness.criteria import CriteriaError, load_all, load_criterion

VALID = """\
id: mnist_mlp
title: MLP on MNIST
script: mlp.py
milestone: "03 · 1986 MLP revival"
requires: [tinytorch.core.tensor, tinytorch.core.layers]
datasets: [mnist]
profiles:
  full:
    args: []
    expected_seconds: 120
    budget: {wall_seconds: 400, memory_mib: 3072, cpus: 1, pids: 64}
  quick:
    args: [--quick]
    expected_seconds: 15
    budget: {wall_seconds: 120, memory_mib: 2048}
checks:
  - name: test_accuracy
    metric: test_accuracy
    source: self-reported
    trust: self-reported
    scorer: accuracy
    artifact: preds.npy
    labels: mnist:test
    rule: {min: 0.95}
    profile_rules: {quick: {min: 0.80}}
    partial: {floor: 0.70}
    points: 10
  - name: loss
    metric: final_loss
    source: self-reported
    trust: self-reported
    rule: {range: [0, 0.5]}
    visibility: hidden
"""


def write(tmp_path, text, name="mnist_mlp.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def problems_of(path) -> list[str]:
    with pytest.raises(CriteriaError) as info:
        load_criterion(path, display=path.name)
    return info.value.problems


def test_valid_file_loads_with_rules_and_defaults(tmp_path):
    c = load_criterion(write(tmp_path, VALID))
    assert c.id == "mnist_mlp" and c.max_score == 11
    acc, loss = c.checks
    assert acc.rule_for("quick").describe() == ">= 0.800" and acc.rule_for("full").describe() == ">= 0.950"
    assert loss.rule.describe() == "in [0.000, 0.500]" and loss.points == 1 and loss.visibility == "hidden"
    assert c.profiles["quick"].budget.pids == 64
    assert c.where("checks", 1, "rule") == f"{tmp_path / 'mnist_mlp.yaml'}:32: checks[1].rule"


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("rule: {min: 0.95}", "rule: {minimum: 0.95}",
     "mnist_mlp.yaml:24: checks[0].rule: expected one of min|max|range|equals|allclose (exactly one), "
     "got ['minimum']"),
    ("    points: 10\n", "    points: 10\n    pointz: 3\n",
     "mnist_mlp.yaml:28: checks[0].pointz: unknown key 'pointz' (did you mean 'points'?)"),
    ("milestone:", "colour: red\nmilestone:", "mnist_mlp.yaml:4: colour: unknown key 'colour' (remove it)"),
    ("points: 10", "points: ten",
     "mnist_mlp.yaml:27: checks[0].points: Input should be a valid number, unable to parse string as a "
     "number"),
    ("visibility: hidden", "visibility: secret",
     "mnist_mlp.yaml:33: checks[1].visibility: Input should be 'visible' or 'hidden'"),
    ("range: [0, 0.5]", "range: [1, 0.5]",
     "mnist_mlp.yaml:32: checks[1].rule.range: range [lo, hi] needs lo <= hi, got [1.0, 0.5]"),
    ("partial: {floor: 0.70}", "partial: {floor: 0.85}",
     "mnist_mlp.yaml:17: checks[0]: partial.floor 0.85 must be below the min 0.8 of profile_rules.quick"),
    ("    scorer: accuracy\n", "",
     "mnist_mlp.yaml:17: checks[0]: an artifact check needs scorer"),
    ("labels: mnist:test", "labels: mnist",
     "mnist_mlp.yaml:23: checks[0].labels: 'mnist' is not valid here: expected dataset:split, "
     "e.g. mnist:test"),
    ("script: mlp.py", "script: ../evil.py",
     "mnist_mlp.yaml:3: script: '../evil.py' is not valid here: expected a file name in extras/ "
     "ending in .py (no directories)"),
    ("  quick:\n    args: [--quick]\n    expected_seconds: 15\n"
     "    budget: {wall_seconds: 120, memory_mib: 2048}\n", "",
     "mnist_mlp.yaml:7: profiles: profiles needs quick (each with expected_seconds and budget)"),
    ("    args: []\n", "    args: []\n    env: {PYTHONPATH: /tmp}\n",
     "mnist_mlp.yaml:10: profiles.full.env: PYTHONPATH is set by the harness (docs/contracts.md §2); "
     "remove it from env"),
    ("wall_seconds: 400", "wall_seconds: -1",
     "mnist_mlp.yaml:11: profiles.full.budget.wall_seconds: Input should be greater than 0"),
    ("  - name: loss", "  - name: test_accuracy",
     "mnist_mlp.yaml:16: checks: check names must be unique, repeated: test_accuracy"),
    ("title: MLP on MNIST\n", "title: MLP on MNIST\ntitle: again\n",
     "mnist_mlp.yaml:3: title: duplicate key (remove one)"),
])
def test_each_mistake_names_file_line_field_and_expectation(tmp_path, old, new, expected):
    assert old in VALID
    problems = problems_of(write(tmp_path, VALID.replace(old, new, 1)))
    assert expected in problems, problems


def test_all_problems_of_a_file_are_reported_together(tmp_path):
    text = VALID.replace("points: 10", "points: ten").replace("visibility: hidden", "visibility: secret")
    assert len(problems_of(write(tmp_path, text))) == 2


def test_id_must_match_file_stem(tmp_path):
    path = write(tmp_path, VALID, name="other.yaml")
    assert problems_of(path) == [
        "other.yaml:1: id: 'mnist_mlp' must equal the file name stem 'other' (rename the file or the id)"]


def test_yaml_syntax_error_has_a_line(tmp_path):
    problems = problems_of(write(tmp_path, VALID.replace("checks:", "checks: [", 1)))
    assert len(problems) == 1 and problems[0].startswith("mnist_mlp.yaml:")
    assert "not valid YAML" in problems[0]


def test_empty_file_and_non_mapping(tmp_path):
    assert problems_of(write(tmp_path, "")) == [
        "mnist_mlp.yaml:1: file is empty; expected a mapping with id, title, script, ..."]
    assert problems_of(write(tmp_path, "- a\n- b\n")) == [
        "mnist_mlp.yaml:1: expected a mapping at the top level, got list"]


def test_load_all_collects_problems_from_every_file(tmp_path):
    write(tmp_path, VALID)
    write(tmp_path, VALID.replace("id: mnist_mlp", "id: broken").replace("rule: {min: 0.95}", "rule: {}"),
          name="broken.yaml")
    with pytest.raises(CriteriaError) as info:
        load_all(tmp_path)
    assert len(info.value.problems) == 1 and "broken.yaml:24: checks[0].rule" in info.value.problems[0]


@pytest.mark.parametrize(("rule", "value", "reason"), [
    ({"min": 0.95}, 0.912, "acc 0.912 < 0.950 required"),
    ({"max": 2}, 2.5, "acc 2.500 > 2.000 allowed"),
    ({"range": [1, 2]}, 3, "acc 3.000 outside [1.000, 2.000] required"),
    ({"equals": True}, 1, "acc 1.000 != True required"),
    ({"equals": 3}, 3.5, "acc 3.500 != 3.000 required"),
    ({"allclose": {"value": 1.0, "rtol": 0.01, "atol": 0}}, 1.02,
     "acc 1.020 not ~= 1.000 (rtol=0.01, atol=0)"),
    ({"min": 0.5}, "high", "acc is 'high', a number is required"),
])
def test_rules_explain_a_miss(rule, value, reason):
    from harness.criteria import Rule

    assert Rule.model_validate(rule).miss_reason("acc", value) == reason


@pytest.mark.parametrize(("rule", "value"), [
    ({"min": 0.95}, 0.95), ({"max": 2}, 2), ({"range": [1, 2]}, 1.5), ({"equals": True}, True),
    ({"equals": 3}, 3), ({"equals": "ok"}, "ok"), ({"allclose": {"value": 1.0, "rtol": 0.01}}, 1.005),
])
def test_rules_accept_values_that_meet_them(rule, value):
    from harness.criteria import Rule

    assert Rule.model_validate(rule).miss_reason("acc", value) is None
