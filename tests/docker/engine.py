"""The engine gate shared by tests/docker and tests/hostile: fail loudly in CI, skip elsewhere."""

from __future__ import annotations

import os

import docker
import pytest

from harness.runners.docker import DockerRunner
from harness.runners.docker_cleanup import LABEL_RUN

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_docker() -> DockerRunner:
    """A DockerRunner whose engine and grading image are up; otherwise fail in CI, skip locally."""
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
    client = docker.from_env()
    try:
        return client.api.containers(all=True, filters={"label": f"{LABEL_RUN}={run_id}"})
    finally:
        client.close()
