"""A dishonest package cannot forge the grade of an evidence-based extra.

Grade-bearing checks are computed on the host from the run's evidence (trained weights, outputs on
secret probes) against data the sandbox never sees; what the package claims about itself earns
nothing. Each test performs one forgery through the real engine (local backend).
"""

from __future__ import annotations

import shutil
import textwrap

import pytest
import yaml

from tests.extras.conftest import REPO

pytestmark = pytest.mark.slow

EVIDENCE_EXTRAS = ["perceptron", "xor_crisis", "mnist_mlp", "cifar10_cnn", "compression", "tinytalks",
                   "codebot", "text_generation", "quickdemo", "generation_opts"]


def every_metric_name() -> list[str]:
    names = set()
    for path in (REPO / "criteria").glob("*.yaml"):
        names |= {check["metric"] for check in yaml.safe_load(path.read_text())["checks"]}
    return sorted(names)


def claiming_package(tmp_path):
    """An empty package whose import writes a passing value for every metric, and exits."""
    root = tmp_path / "claimer"
    (root / "tinytorch").mkdir(parents=True)
    (root / "tinytorch" / "__init__.py").write_text(textwrap.dedent(f"""\
        import json, os
        out = os.environ.get("HARNESS_OUT")
        if out:
            with open(os.path.join(out, "metrics.jsonl"), "w") as f:
                for name in {every_metric_name()!r}:
                    f.write(json.dumps({{"kind": "scalar", "name": name, "value": 0.99}}) + "\\n")
            os._exit(0)
        """))
    for path in (REPO / "criteria").glob("*.yaml"):  # every module an extra requires, empty
        for module in yaml.safe_load(path.read_text()).get("requires", []):
            parts = module.split("|")[0].split(".")
            for depth in range(2, len(parts)):
                package = root.joinpath(*parts[:depth])
                package.mkdir(exist_ok=True)
                (package / "__init__.py").touch()
            root.joinpath(*parts).with_suffix(".py").touch()
    return root


@pytest.mark.parametrize("criterion_id", EVIDENCE_EXTRAS)
def test_claimed_metrics_earn_nothing_on_an_evidence_extra(run_extra, classic_data, tmp_path, criterion_id):
    result = run_extra(criterion_id, claiming_package(tmp_path))
    assert result.run.exit_code == 0  # the forger exits cleanly, as in the report that filed this
    assert result.verdict == "failed"
    points = {c.name: c.score for c in result.checks if c.source == "host"}
    assert points and all(score == 0.0 for score in points.values())
    # What a forger could still earn is the self-reported checks, each labelled in reports (see
    # docs/grading.md); this one earns none because the script stopped at import.
    assert result.score == 0.0


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
