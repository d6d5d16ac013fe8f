"""The one Docker engine gate for every test folder: fail loudly in CI, skip elsewhere.

Used by the ``docker_engine`` and ``docker_runner`` fixtures in ``tests/conftest.py`` (shared by
tests/docker, tests/hostile and the docker half of tests/harness/test_verdicts.py). The docker SDK
and the docker runner are imported only when a test asks for the engine.
"""

from __future__ import annotations

import os

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_docker():
    """A DockerRunner whose engine and grading image are up; otherwise fail in CI, skip locally."""
    from harness.runners.docker import DockerRunner

    runner = DockerRunner()
    ok, why = runner.available()
    if not ok:
        message = f"the docker backend is not available: {why.rstrip('.')}"
        if IN_CI:
            pytest.fail(f"CI=true and {message}. scripts/ci-docker.sh must start dockerd and build "
                        "the image before the tests run.", pytrace=False)
        pytest.skip(message)
    return runner


def containers_of(run_id: str) -> list[dict]:
    """Every container (running or not) labelled with this run id."""
    import docker

    from harness.runners.docker.cleanup import LABEL_RUN

    client = docker.from_env()
    try:
        return client.api.containers(all=True, filters={"label": f"{LABEL_RUN}={run_id}"})
    finally:
        client.close()
