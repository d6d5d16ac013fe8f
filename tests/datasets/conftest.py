"""Fixtures for the dataset tests: an empty cache per test, and a copy of the real MNIST files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture
def empty_cache(tmp_path, monkeypatch) -> Path:
    """$HARNESS_DATA pointed at a fresh empty folder."""
    root = tmp_path / "cache"
    monkeypatch.setenv("HARNESS_DATA", str(root))
    return root


@pytest.fixture
def mnist_copy(tmp_path, shared_datasets) -> Path:
    """A writable copy of ../shared/datasets/mnist (the four .gz files)."""
    target = tmp_path / "mnist-src"
    shutil.copytree(shared_datasets / "mnist", target)
    return target
