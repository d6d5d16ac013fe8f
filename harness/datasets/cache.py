"""Where datasets live on the host: ``$HARNESS_DATA``, else the user cache directory."""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "tinytorch-harness"
VIEWS_DIRNAME = ".views"  # sandbox views live beside the datasets, hidden from `harness data list`


def cache_root() -> Path:
    """The dataset cache: ``$HARNESS_DATA`` or ``<user cache dir>/tinytorch-harness/datasets``."""
    override = os.environ.get("HARNESS_DATA")
    if override:
        return Path(override).expanduser().resolve()
    import platformdirs

    base = platformdirs.user_cache_dir(APP_NAME, appauthor=False, opinion=False)
    return Path(base) / "datasets"


def dataset_dir(name: str) -> Path:
    """The cache directory of one dataset (may not exist yet)."""
    return cache_root() / name


def view_dir(name: str) -> Path:
    """The derived, label-free directory that is mounted into the sandbox."""
    return cache_root() / VIEWS_DIRNAME / name
