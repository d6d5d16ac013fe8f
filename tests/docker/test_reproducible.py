"""The same submission graded twice in containers gives the same verdicts and the same metrics,
bit for bit, and the same as the local backend (the image's numpy is the lock's, one thread)."""

from __future__ import annotations

import pytest

from harness.criteria import load_criterion
from harness.engine import Submission
from harness.pipeline import run_checks
from harness.runners.docker import DockerRunner
from harness.runners.local import LocalRunner

pytestmark = pytest.mark.docker

EXTRAS = ("perceptron", "xor_crisis")  # the quick, dataset-free extras of the real project


def _untimed(metrics: dict) -> dict:
    return {name: value for name, value in metrics.items() if not name.endswith("_seconds")}


def _grade(runner, repo_root) -> dict[str, tuple[str, dict]]:
    criteria = [load_criterion(repo_root / "criteria" / f"{name}.yaml") for name in EXTRAS]
    report = run_checks(criteria, [Submission("reference", repo_root)], runner=runner,
                        extras_dir=repo_root / "extras", profile="quick", jobs=2)
    return {e.id: (e.verdict, _untimed(e.metrics)) for e in report.submissions[0].extras}


def test_grading_twice_in_docker_and_once_locally_agrees(docker_engine, repo_root):
    first = _grade(DockerRunner(), repo_root)
    assert {name: verdict for name, (verdict, _) in first.items()} == dict.fromkeys(EXTRAS, "passed")
    assert all(len(metrics) >= 5 for _, metrics in first.values())
    assert _grade(DockerRunner(), repo_root) == first
    assert _grade(LocalRunner(), repo_root) == first
