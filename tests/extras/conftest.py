"""Fixtures for the extras tests: run one real extra through the engine against a submission."""

from __future__ import annotations

import importlib
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

from harness.criteria import load_all
from harness.engine import Submission
from harness.pipeline import run_checks
from harness.runners.local import LocalRunner

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def sandbox_helpers(monkeypatch):
    """Import a module of extras/_harness (the sandbox-side helpers) by name, fresh for this test."""
    monkeypatch.syspath_prepend(str(REPO / "extras"))
    for name in [m for m in sys.modules if m == "_harness" or m.startswith("_harness.")]:
        monkeypatch.delitem(sys.modules, name)
    return lambda module: importlib.import_module(f"_harness.{module}")


@pytest.fixture
def probe_round_trip(sandbox_helpers, tmp_path, monkeypatch):
    """probe_round_trip(name, *classes, seed=0) -> the host's ProbeScore of the sandbox probe ``name``
    run on host-drawn inputs with ``classes``: the whole evidence path, in one process."""
    import numpy as np

    from harness.evidence.arrays import load_evidence, write_inputs
    from harness.evidence.probes import PROBES

    def run(name: str, *classes, seed: int = 0):
        inputs = PROBES[name].draw(np.random.default_rng(seed))
        directory = write_inputs({f"probe.{k}": v for k, v in inputs.items()})
        out = Path(tempfile.mkdtemp(prefix=f"out-{name}-", dir=tmp_path))
        monkeypatch.setenv("HARNESS_IN", str(directory))
        monkeypatch.setenv("HARNESS_OUT", str(out))
        try:
            getattr(sandbox_helpers("probes"), name)(*classes)
        finally:
            shutil.rmtree(directory)
        return PROBES[name].score(inputs, load_evidence(out))

    return run


@pytest.fixture
def mnist_cache(dataset_cache, monkeypatch):
    """$HARNESS_DATA pointed at the session cache holding the real MNIST (see tests/conftest.py)."""
    monkeypatch.setenv("HARNESS_DATA", str(dataset_cache))
    return dataset_cache


@pytest.fixture
def run_extra():
    """run_extra(criterion_id, submission_root, profile="quick") -> the ExtraResult of one local run."""

    def run(criterion_id: str, submission_root: Path = REPO, profile: str = "quick"):
        criterion = load_all(REPO / "criteria")[criterion_id]
        submission = Submission(name=Path(submission_root).name, root=Path(submission_root))
        report = run_checks([criterion], [submission], runner=LocalRunner(), extras_dir=REPO / "extras",
                            profile=profile)
        return report.submissions[0].extras[0]

    return run


@pytest.fixture
def patched_submission(tmp_path):
    """patched_submission(name, {relative file: [(old, new), ...]}) -> a copy of the reference with edits.

    Each `old` must occur in the reference file exactly once, so a drifting reference fails loudly.
    """

    def make(name: str, edits: dict[str, list[tuple[str, str]]]) -> Path:
        root = tmp_path / name
        shutil.copytree(REPO / "tinytorch", root / "tinytorch",
                        ignore=shutil.ignore_patterns("__pycache__"))
        for relative, replacements in edits.items():
            path = root / "tinytorch" / relative
            text = path.read_text(encoding="utf-8")
            for old, new in replacements:
                count = text.count(old)
                assert count == 1, f"{relative}: expected exactly one {old!r} in the reference, found {count}"
                text = text.replace(old, new)
            path.write_text(text, encoding="utf-8")
        return root

    return make


@pytest.fixture
def classic_data(dataset_cache, monkeypatch):
    """$HARNESS_DATA pointed at the session cache holding MNIST and CIFAR-10 (see tests/conftest.py)."""
    monkeypatch.setenv("HARNESS_DATA", str(dataset_cache))
    return dataset_cache


COURSE = REPO / "tests" / "fixtures" / "course_tinytorch"  # the course-style package


@pytest.fixture
def course_copy(tmp_path):
    """course_copy(name, file, [(old, new), ...]) -> a copy of the fixture, each ``old`` replaced once."""

    def make(name: str, relative: str, edits: list[tuple[str, str]]) -> Path:
        root = tmp_path / name
        shutil.copytree(COURSE / "tinytorch", root / "tinytorch",
                        ignore=shutil.ignore_patterns("__pycache__"))
        path = root / "tinytorch" / relative
        text = path.read_text(encoding="utf-8")
        for old, new in edits:
            assert text.count(old) == 1, f"{relative}: expected exactly one {old!r} in the fixture"
            text = text.replace(old, new)
        path.write_text(text, encoding="utf-8")
        return root

    return make


def checks_by_name(result) -> dict:
    return {check.name: check for check in result.checks}


def failed_checks(result) -> dict[str, str]:
    return {check.name: check.reason for check in result.checks if check.verdict == "failed"}
