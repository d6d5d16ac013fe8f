"""Hostile submissions through the real engine with the docker backend."""

from __future__ import annotations

import pytest

from tests.docker.engine import require_docker


@pytest.fixture(scope="session")
def docker_engine():
    """Fails (CI) or skips (elsewhere) when no engine or grading image is available."""
    return require_docker()


@pytest.fixture
def docker_runner(docker_engine):
    """A fresh DockerRunner (own run id, so its containers can be listed by label)."""
    from harness.runners.docker import DockerRunner

    return DockerRunner()
