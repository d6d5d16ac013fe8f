"""Waiting in tests for something another process does, with a bound instead of a fixed sleep."""

from __future__ import annotations

import time


def wait_until(predicate, seconds: float) -> bool:
    """True as soon as ``predicate()`` is; after ``seconds``, whatever it says one last time."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return bool(predicate())
