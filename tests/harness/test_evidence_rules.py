"""Every check says where its number comes from; the instructor's secrets stay outside the tree."""

from __future__ import annotations

import textwrap

import pytest

from harness.criteria import CriteriaError, load_criterion
from harness.evidence.secrets import SecretsError, load_secrets

HEAD = """\
id: x
title: t
script: x.py
milestone: m
{top}profiles:
  full: {{expected_seconds: 1, budget: {{wall_seconds: 10, memory_mib: 100}}}}
  quick: {{expected_seconds: 1, budget: {{wall_seconds: 10, memory_mib: 100}}}}
checks:
"""


def write(tmp_path, checks: str, top: str = "") -> object:
    path = tmp_path / "x.yaml"
    path.write_text(HEAD.format(top=top) + textwrap.dedent(checks), encoding="utf-8")
    return path


def problems(path) -> list[str]:
    with pytest.raises(CriteriaError) as info:
        load_criterion(path, "x.yaml")
    return info.value.problems


def test_a_check_without_a_source_is_refused(tmp_path):
    path = write(tmp_path, "  - {name: a, metric: m, rule: {min: 0}}\n")
    assert problems(path) == ["x.yaml:9: checks[0].source: Field required"]


def test_points_on_a_self_reported_check_need_explicit_trust(tmp_path):
    path = write(tmp_path, "  - {name: a, metric: m, source: self-reported, rule: {min: 0}, points: 2}\n")
    [problem] = problems(path)
    assert "earns points only with `trust: self-reported`" in problem
    feedback = write(tmp_path, "  - {name: a, metric: m, source: self-reported, rule: {min: 0}, points: 0}\n")
    assert load_criterion(feedback).checks[0].trust is None
    trusted = write(tmp_path, "  - {name: a, metric: m, source: self-reported, trust: self-reported, "
                              "rule: {min: 0}, points: 2}\n")
    assert load_criterion(trusted).checks[0].points == 2


def test_host_checks_need_a_kit_that_computes_their_metric(tmp_path):
    no_kit = write(tmp_path, "  - {name: a, metric: test_accuracy, source: host, rule: {min: 0}}\n")
    assert "needs `evidence: KIT`" in problems(no_kit)[0]
    unknown = write(tmp_path, "  - {name: a, metric: made_up, source: host, rule: {min: 0}}\n",
                    top="evidence: mnist_mlp\n")
    assert "evidence kit 'mnist_mlp' computes no made_up" in problems(unknown)[0]
    good = write(tmp_path, "  - {name: a, metric: test_accuracy, source: host, rule: {min: 0}}\n",
                 top="evidence: mnist_mlp\n")
    assert load_criterion(good).evidence == "mnist_mlp"


def instructor_dir(tmp_path, thresholds: str | None = None):
    root = tmp_path / "secrets"
    (root / "references").mkdir(parents=True)
    (root / "probe-key").write_text("cd" * 32 + "\n")
    if thresholds is not None:
        (root / "thresholds.yaml").write_text(textwrap.dedent(thresholds))
    return root


def test_thresholds_from_the_secrets_override_the_public_rule(tmp_path, monkeypatch):
    path = write(tmp_path, "  - {name: a, metric: m, source: self-reported, points: 0, rule: {min: 0.5}}\n")
    monkeypatch.setenv("HARNESS_SECRETS", str(instructor_dir(tmp_path, "x:\n  a:\n    rule: {min: 0.8}\n")))
    assert load_criterion(path).checks[0].rule.min == 0.8


def test_a_threshold_for_an_unknown_check_names_the_file(tmp_path, monkeypatch):
    path = write(tmp_path, "  - {name: a, metric: m, source: self-reported, points: 0, rule: {min: 0.5}}\n")
    monkeypatch.setenv("HARNESS_SECRETS", str(instructor_dir(tmp_path, "x:\n  nope:\n    rule: {min: 1}\n")))
    [problem] = problems(path)
    assert "thresholds.yaml: x: no check named 'nope'" in problem


def test_run_seeds_are_reproducible_and_depend_on_the_key(tmp_path):
    secrets = load_secrets(instructor_dir(tmp_path))
    assert not secrets.is_sample and secrets.label == "instructor"
    seed = secrets.run_seed("mnist_mlp", "quick", "sha256:abc", "1337")
    assert seed == secrets.run_seed("mnist_mlp", "quick", "sha256:abc", "1337")
    assert seed != secrets.run_seed("mnist_mlp", "quick", "sha256:abd", "1337")
    assert seed != load_secrets().run_seed("mnist_mlp", "quick", "sha256:abc", "1337")  # the sample key


def test_bad_secrets_say_what_to_do(tmp_path):
    with pytest.raises(SecretsError, match="does not exist"):
        load_secrets(tmp_path / "missing")
    root = instructor_dir(tmp_path)
    (root / "probe-key").write_text("short")
    with pytest.raises(SecretsError, match="at least 32 hex characters"):
        load_secrets(root).probe_key()
