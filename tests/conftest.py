"""Shared test fixtures: paths to the repository and to ../shared, and the Docker engine gate."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.docker_support import require_docker

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = Path(os.environ.get("HARNESS_SHARED_DIR", REPO_ROOT.parent / "shared")).resolve()


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    """The real datasets beside the checkout (../shared/datasets)."""
    path = SHARED_DIR / "datasets"
    if not path.is_dir():
        pytest.fail(
            f"real datasets not found at {path}: set HARNESS_SHARED_DIR to the folder that holds datasets/"
        )
    return path


@pytest.fixture(scope="session")
def dataset_cache(tmp_path_factory, shared_datasets) -> Path:
    """A dataset cache seeded from ../shared/datasets (MNIST, CIFAR-10), exported as $HARNESS_DATA.

    Shared by all xdist workers (built once, under a file lock) and verified like a user's cache.
    """
    import fcntl

    from harness.datasets import import_from, list_status

    base = tmp_path_factory.getbasetemp()
    root = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "dataset-cache"
    root.mkdir(exist_ok=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HARNESS_DATA", str(root))
        with open(root.parent / "dataset-cache.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            for status in list_status():
                if status.state != "verified":
                    import_from(status.name, shared_datasets / status.name)
        yield root


@pytest.fixture(scope="session")
def docker_engine():
    """A connected DockerRunner; fails (CI=true) or skips (elsewhere) when no engine or grading image."""
    return require_docker()


@pytest.fixture
def docker_runner(docker_engine):
    """A fresh DockerRunner (own run id, so its containers can be listed by label)."""
    from harness.runners.docker import DockerRunner

    return DockerRunner()


@pytest.fixture
def run_results():
    """For tests that call a runner's ``run`` directly: ``run_results(result)`` returns the result
    and removes its ``out_dir`` after the test, however the test ends (``RunResult.out_dir`` is the
    caller's to remove)."""
    kept = []

    def keep(result):
        kept.append(result)
        return result

    yield keep
    for result in kept:
        if result.out_dir is not None:
            shutil.rmtree(result.out_dir, ignore_errors=True)


@pytest.fixture(autouse=True)
def no_leaked_sandbox_dirs(monkeypatch):
    """Every ``harness-*`` temporary directory made in this process during a test (a local run's
    work dir, an /out copy) must be gone when the test and its other fixtures have finished."""
    made = []
    mkdtemp = tempfile.mkdtemp

    def recording_mkdtemp(suffix=None, prefix=None, dir=None):
        path = mkdtemp(suffix, prefix, dir)
        if prefix and str(prefix).startswith("harness-"):
            made.append(path)
        return path

    monkeypatch.setattr(tempfile, "mkdtemp", recording_mkdtemp)
    yield
    left = [path for path in made if os.path.lexists(path)]
    for path in left:
        shutil.rmtree(path, ignore_errors=True)
    assert not left, f"the test left sandbox directories behind (removed now): {left}"
