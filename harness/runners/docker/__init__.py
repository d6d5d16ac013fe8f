"""The docker backend: the grading image, one locked-down container per job, /out copied back."""

from harness.runners.docker.runner import DockerRunner

__all__ = ["DockerRunner"]
