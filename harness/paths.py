"""Where the project keeps its extras, criteria and reference package, and the CLI's exit codes."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
EXTRAS_DIR = PROJECT_ROOT / "extras"
CRITERIA_DIR = PROJECT_ROOT / "criteria"
REFERENCE_SUBMISSION = PROJECT_ROOT  # holds the reference tinytorch/ package

APP_NAME = "tinytorch-harness"


def cache_dir() -> Path:
    """The harness's per-user cache folder: ``$HARNESS_CACHE_DIR``, else the platform's user cache
    directory + ``tinytorch-harness`` (this machine's calibration lives here; datasets under
    ``datasets/`` unless ``$HARNESS_DATA`` says otherwise)."""
    override = os.environ.get("HARNESS_CACHE_DIR")
    if override:
        return Path(override).expanduser().absolute()
    import platformdirs

    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False, opinion=False))


EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INFRA = 0, 1, 2, 3
