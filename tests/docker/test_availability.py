"""When the docker backend cannot run, it says why and what to do."""

from __future__ import annotations

import pytest

from harness.runners.docker import DockerRunner


def test_no_engine_says_how_to_start_one_or_use_local(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    ok, why = DockerRunner().available()
    assert not ok
    assert why.startswith("no Docker engine reachable (")
    assert why.endswith("): start one (Linux: `sudo dockerd &` or `sudo systemctl start docker`; "
                        "macOS/Windows: start Docker Desktop)")


@pytest.mark.docker
def test_missing_image_says_how_to_build_it(docker_engine):
    ok, why = DockerRunner(image="tinytorch-harness:does-not-exist").available()
    assert (ok, why) == (False, "grading image 'tinytorch-harness:does-not-exist' not found locally: "
                                "build it with `harness image build` or pass an existing image")


@pytest.mark.docker
def test_available_names_engine_and_image(docker_engine):
    ok, why = DockerRunner().available()
    assert ok and why.startswith("Docker engine ") and ", image tinytorch-harness:" in why
