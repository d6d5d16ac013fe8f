"""Backends by name: ``local`` (a subprocess) and ``docker`` (imported only when chosen)."""

from __future__ import annotations

from collections.abc import Callable

from harness.runners.base import Runner


def _local() -> type[Runner]:
    from harness.runners.local import LocalRunner

    return LocalRunner


def _docker() -> type[Runner]:
    from harness.runners.docker import DockerRunner  # loads the docker SDK: only when chosen

    return DockerRunner


# name -> the function that imports and returns the backend's class (a static registry: the
# import graph names every backend).
BACKENDS: dict[str, Callable[[], type[Runner]]] = {"local": _local, "docker": _docker}
LOCAL_HINT = "use --backend local to run without isolation on this machine (not a security boundary)"


class BackendUnavailable(Exception):
    """The chosen backend cannot run here; the message says why and what to do."""


def create(name: str) -> Runner:
    """Instantiate backend ``name``; BackendUnavailable if it cannot be loaded or is not usable here."""
    if name not in BACKENDS:
        raise BackendUnavailable(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    try:
        runner = BACKENDS[name]()()
    except (ImportError, AttributeError) as exc:
        raise BackendUnavailable(f"the {name} backend is not installed ({exc}); {LOCAL_HINT}") from None
    except Exception as exc:  # e.g. the docker SDK failing to reach an engine while constructing
        raise BackendUnavailable(f"the {name} backend failed to start: {exc}; {LOCAL_HINT}") from None
    ok, why = runner.available()
    if not ok:
        hint = "" if name == "local" else f"; or {LOCAL_HINT}"
        raise BackendUnavailable(f"the {name} backend is not available: {why}{hint}")
    return runner
