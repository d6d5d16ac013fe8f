"""Backends by name: ``local`` (a subprocess) and ``docker`` (loaded lazily by import path)."""

from __future__ import annotations

import importlib

from harness.runners.base import Runner

# name -> "module:Class"; a backend is imported only when chosen.
BACKENDS: dict[str, str] = {
    "local": "harness.runners.local:LocalRunner",
    "docker": "harness.runners.docker:DockerRunner",
}
LOCAL_HINT = "use --backend local to run without isolation on this machine (not a security boundary)"


class BackendUnavailable(Exception):
    """The chosen backend cannot run here; the message says why and what to do."""


def create(name: str) -> Runner:
    """Instantiate backend ``name``; BackendUnavailable if it cannot be loaded or is not usable here."""
    if name not in BACKENDS:
        raise BackendUnavailable(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    module_name, class_name = BACKENDS[name].split(":")
    try:
        runner_class = getattr(importlib.import_module(module_name), class_name)
        runner = runner_class()
    except (ImportError, AttributeError) as exc:
        raise BackendUnavailable(f"the {name} backend is not installed ({exc}); {LOCAL_HINT}") from None
    except Exception as exc:  # e.g. the docker SDK failing to reach an engine while constructing
        raise BackendUnavailable(f"the {name} backend failed to start: {exc}; {LOCAL_HINT}") from None
    ok, why = runner.available()
    if not ok:
        hint = "" if name == "local" else f"; or {LOCAL_HINT}"
        raise BackendUnavailable(f"the {name} backend is not available: {why}{hint}")
    return runner
