"""The local backend: a subprocess under a launcher that sets its limits, watched by a watchdog."""

from harness.runners.local.runner import LocalRunner

__all__ = ["LocalRunner"]
