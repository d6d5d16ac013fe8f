"""Shared test fixtures: paths to the repository and to ../shared."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = Path(os.environ.get("HARNESS_SHARED_DIR", REPO_ROOT.parent / "shared")).resolve()
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    """The real datasets beside the checkout (../shared/datasets)."""
    path = SHARED_DIR / "datasets"
    if not path.is_dir():
        pytest.fail(f"real datasets not found at {path}: set HARNESS_SHARED_DIR to the folder holding datasets/")
    return path
