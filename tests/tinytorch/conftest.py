"""Helpers for tinytorch tests: torch oracle import that never silently skips in CI."""

from __future__ import annotations

import os

import pytest


def require_torch():
    """Import torch for oracle tests: skip locally when missing, FAIL in CI (CI=true)."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        try:
            import torch
        except ImportError as exc:
            pytest.fail(f"torch is required in CI for oracle tests (pip install torch): {exc}")
        return torch
    return pytest.importorskip("torch")


@pytest.fixture(autouse=True)
def _seed_tinytorch():
    """Every test starts from the same tinytorch seed."""
    import tinytorch

    tinytorch.manual_seed(0)
    yield
