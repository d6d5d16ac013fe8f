"""Fixtures for the dataset tests: an empty cache per test, and a copy of the real MNIST files."""

from __future__ import annotations

import importlib.util
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



@pytest.fixture(scope="session")
def sandbox_data(repo_root):
    """extras/_harness/data.py, the loader that runs inside the sandbox (loaded from its file)."""
    path = repo_root / "extras" / "_harness" / "data.py"
    spec = importlib.util.spec_from_file_location("sandbox_data", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
