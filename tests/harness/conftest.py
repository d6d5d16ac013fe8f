"""Fake extras, criteria and submissions in tmp dirs, so the harness tests never touch the real ones."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest
import yaml

from harness.criteria import load_all
from harness.engine import Submission
from harness.pipeline import run_checks
from harness.runners.local import LocalRunner

REPO = Path(__file__).resolve().parents[2]

# A script fragment that reports metrics without importing numpy (fast start-up).
REPORT = textwrap.dedent("""\
    import json, os
    def report(name, value, kind="scalar"):
        key = "values" if kind == "series" else "value"
        with open(os.path.join(os.environ["HARNESS_OUT"], "metrics.jsonl"), "a") as f:
            f.write(json.dumps({"kind": kind, "name": name, key: value}) + "\\n")
""")


def budget(wall_seconds=20, memory_mib=1024, cpus=1):
    return {"wall_seconds": wall_seconds, "memory_mib": memory_mib, "cpus": cpus, "pids": 64}



def self_reported(check: dict) -> dict:
    """These fakes test the machinery with the script's own metrics: a check without ``source`` is
    ``self-reported`` and trusted (real criteria compute grade-bearing numbers on the host)."""
    if "source" in check:
        return check
    return {**check, "source": "self-reported", "trust": "self-reported"}

class FakeProject:
    """A folder with extras/, criteria/ and a submission, plus a way to grade them with ``runner``
    (a fresh LocalRunner per grade when None)."""

    def __init__(self, root: Path, runner=None):
        self.root = root
        self.runner = runner
        self.extras = root / "extras"
        self.criteria = root / "criteria"
        self.extras.mkdir()
        self.criteria.mkdir()
        self.submission = self.make_submission("student", ["tinytorch.core.tensor"])

    def make_submission(self, name: str, modules: list[str]) -> Path:
        """submissions/<name>/tinytorch/ holding ``modules`` (dotted names), each a tiny file."""
        base = self.root / "submissions" / name
        (base / "tinytorch").mkdir(parents=True)
        (base / "tinytorch" / "__init__.py").write_text("VERSION = 'fake'\n")
        for module in modules:
            parts = module.split(".")
            for depth in range(2, len(parts)):
                package = base.joinpath(*parts[:depth])
                package.mkdir(exist_ok=True)
                (package / "__init__.py").touch()
            base.joinpath(*parts).with_suffix(".py").write_text("VALUE = 42\n")
        return base

    def add(self, extra_id: str, script: str, checks: list[dict] | None = None, *,
            requires=("tinytorch.core.tensor",), full=None, quick=None, expected_seconds=1.0, **fields):
        """Write extras/<id>.py and criteria/<id>.yaml; checks default to one `score >= 0.9`."""
        (self.extras / f"{extra_id}.py").write_text(textwrap.dedent(script))
        spec = {
            "id": extra_id, "title": f"fake {extra_id}", "script": f"{extra_id}.py", "milestone": "test",
            "requires": list(requires),
            "profiles": {
                "full": {"args": [], "expected_seconds": expected_seconds, "budget": full or budget()},
                "quick": {"args": ["--quick"], "expected_seconds": expected_seconds,
                          "budget": quick or full or budget()},
            },
            "checks": [self_reported(c) for c in checks or
                       [{"name": "score", "metric": "score", "rule": {"min": 0.9}, "points": 10}]],
            **fields,
        }
        (self.criteria / f"{extra_id}.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))

    def grade(self, *, jobs=1, profile="full", include_hidden=False, submissions=None, on_result=None):
        criteria = list(load_all(self.criteria).values())
        subs = submissions or [Submission("student", self.submission)]
        runner = self.runner or LocalRunner()
        report = run_checks(criteria, subs, runner=runner, extras_dir=self.extras, profile=profile,
                            jobs=jobs, include_hidden=include_hidden, on_result=on_result)
        assert report.provenance.backend == runner.name  # graded by the backend under test
        return report

    def extra(self, extra_id: str, **kwargs):
        """Grade and return the single ExtraResult of ``extra_id``."""
        report = self.grade(**kwargs)
        return next(e for e in report.submissions[0].extras if e.id == extra_id)

    def copy_metrics_helper(self) -> None:
        shutil.copytree(REPO / "extras" / "_harness", self.extras / "_harness",
                        ignore=shutil.ignore_patterns("__pycache__"))


@pytest.fixture
def project(tmp_path) -> FakeProject:
    return FakeProject(tmp_path)


@pytest.fixture(params=["local", pytest.param("docker", marks=pytest.mark.docker)])
def runner(request):
    """Each backend in turn. docker: the session's engine gate (fails with CI=true, else skips),
    and after the test no container of this runner may be left."""
    if request.param == "local":
        yield LocalRunner()
        return
    from tests.docker_support import containers_of

    docker = request.getfixturevalue("docker_engine")
    yield docker
    assert containers_of(docker.run_id) == [], "a container outlived its job"
