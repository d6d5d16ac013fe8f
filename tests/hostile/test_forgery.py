"""A package with no working model earns no grade-bearing points, whatever it forges (issue 13).

Grade-bearing checks are ``source: host``: the host computes them from the run's evidence (exported
weights, outputs on secret inputs) against data the sandbox never sees; what a package claims about
itself earns nothing. The forgers of tests/hostile/forgers.py (an empty claimer, a package that
embeds the public labels and fills every evidence name the host reads, one that monkeypatches
``extras/_harness`` and numpy, a regex TinyTalks answerer, a ``pass`` completer, pre-baked weights
of the wrong architecture, and of the right one untrained) each run every extra of criteria/*.yaml
(quick profile) through the real engine, in one batch per forger: on the local backend all of them,
in docker the empty claimer and the monkeypatcher. None may earn a point on any check (no shipped
check puts points on a self-reported number: test_no_points_rest_on_self_reported_checks).

The failure diagnosis (``harness.diagnose``, a second sandbox job per failed extra) is switched off
here: it never changes a verdict or a score, and it would double the runs.

The other half of issue 13's claim, that the honest packages still score full marks, is covered
elsewhere: the reference package in tests/extras/test_classic_extras.py (``passed``: score ==
max_score) and tests/extras/test_transformer_extras_pass.py (``test_transformer_extra_passes_on_reference``:
score == max_score; ``test_compression_passes_on_reference``: verdict passed), the course-style
package (tests/fixtures/course_tinytorch) in tests/extras/test_classic_course.py and
tests/extras/test_transformer_course.py (``passes``: score == max_score) and
tests/extras/test_profile_compression_course.py (verdict passed), all quick profile, local backend.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.engine import Submission
from harness.pipeline import run_checks
from harness.report.model import ExtraResult
from harness.runners.local import LocalRunner
from tests.hostile.forgers import FORGERS, REPO, criteria

pytestmark = pytest.mark.slow

LEAVE_AT_IMPORT = ("empty_claimer", "label_embedder", "prebaked_wrong_shape", "prebaked_untrained")
DOCKER_FORGERS = ("empty_claimer", "monkeypatcher")


@pytest.fixture
def no_diagnosis(monkeypatch):
    monkeypatch.setattr("harness.diagnose.attach",
                        lambda runner, job, requires, script, result, package_hash: result)


def grade(root: Path, runner) -> dict[str, ExtraResult]:
    """Every extra of criteria/*.yaml against the package at ``root``, hidden checks included."""
    report = run_checks(list(criteria().values()), [Submission(root.name, root)], runner=runner,
                        extras_dir=REPO / "extras", profile="quick", jobs=2, include_hidden=True)
    return {extra.id: extra for extra in report.submissions[0].extras}


def points_earned(results: dict[str, ExtraResult]) -> list[str]:
    """Every check that gave points, with its source and reason."""
    return [f"{extra.id}.{check.name} ({check.source}): {check.score:g} of {check.max_score:g} points; "
            f"{check.reason}"
            for extra in results.values() for check in extra.checks if check.score > 0]


def assert_nothing_earned(forger: str, results: dict[str, ExtraResult]) -> None:
    assert sorted(results) == sorted(criteria())
    not_run = {e.id: e.reason for e in results.values() if e.verdict == "not_gradable"}
    assert not not_run, f"the forger never ran there: {not_run}"
    earned = points_earned(results)
    assert not earned, f"the {forger} earned points:\n" + "\n".join(earned)
    if forger in LEAVE_AT_IMPORT:  # its forgery reached the judge: the run ended as the forger meant
        assert {e.id: e.run.exit_code for e in results.values()} == dict.fromkeys(results, 0)


def test_no_points_rest_on_self_reported_checks():
    self_reported = [f"{c.id}.{check.name}: {check.points:g} points" for c in criteria().values()
                     for check in c.checks if check.points > 0 and check.source == "self-reported"]
    assert self_reported == []


@pytest.mark.parametrize("forger", sorted(FORGERS))
def test_a_forger_earns_nothing_on_any_extra(forger, classic_data, no_diagnosis, tmp_path):
    results = grade(FORGERS[forger](tmp_path), LocalRunner())
    assert_nothing_earned(forger, results)
    if forger == "regex_answerer":  # in the sandbox its rules answer nearly everything...
        assert results["tinytalks"].metrics["train_exact_answer_rate"] >= 0.9
    if forger == "pass_completer":  # ...and every completion parses
        assert "Completions that parse: 42/42" in results["codebot"].run.stdout_tail
    if forger == "monkeypatcher":  # the patched helpers carried most scripts to their end
        assert sum(e.run.exit_code == 0 for e in results.values()) > len(results) / 2


@pytest.mark.docker
@pytest.mark.parametrize("forger", DOCKER_FORGERS)
def test_a_forger_earns_nothing_in_docker(forger, docker_runner, classic_data, no_diagnosis, tmp_path):
    assert_nothing_earned(forger, grade(FORGERS[forger](tmp_path), docker_runner))


IGNORE_THE_START = """

# FORGERY: ignore the grader's starting weights (as a package shipping weights trained elsewhere
# would), keeping the extra's own initialisation.
import _harness.evidence as _evidence


def _keep_own_start(params, given, prefix="init."):
    for param in params.values():
        param.requires_grad = True


_evidence.start_from = _keep_own_start
"""


def test_weights_that_do_not_descend_from_the_given_start_earn_nothing(run_extra, classic_data, tmp_path):
    root = tmp_path / "own_start"
    shutil.copytree(REPO / "tinytorch", root / "tinytorch", ignore=shutil.ignore_patterns("__pycache__"))
    with open(root / "tinytorch" / "__init__.py", "a", encoding="utf-8") as handle:
        handle.write(IGNORE_THE_START)
    result = run_extra("mnist_mlp", root)
    checks = {c.name: c for c in result.checks}
    assert checks["forward_numerics"].verdict == "passed"  # the layers are genuine
    for name in ("test_accuracy", "weights_move", "trained_from_given_start"):
        assert checks[name].verdict == "failed" and checks[name].score == 0.0
        assert "do not descend from the starting weights" in checks[name].reason


def test_a_model_that_differs_from_its_weights_is_an_architecture_mismatch(run_extra, classic_data, tmp_path):
    root = tmp_path / "scaled_relu"
    shutil.copytree(REPO / "tinytorch", root / "tinytorch", ignore=shutil.ignore_patterns("__pycache__"))
    with open(root / "tinytorch" / "core" / "activations.py", "a", encoding="utf-8") as handle:
        handle.write("\n\n_relu_forward = ReLU.forward\n"
                     "ReLU.forward = lambda self, x: _relu_forward(self, x) * 1.5  # not the course's ReLU\n")
    result = run_extra("mnist_mlp", root)
    accuracy = next(c for c in result.checks if c.name == "test_accuracy")
    assert accuracy.verdict == "failed" and "architecture mismatch" in accuracy.reason
