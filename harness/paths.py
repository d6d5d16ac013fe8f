"""Where the project keeps its extras, criteria and reference package, and the CLI's exit codes."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
EXTRAS_DIR = PROJECT_ROOT / "extras"
CRITERIA_DIR = PROJECT_ROOT / "criteria"
REFERENCE_SUBMISSION = PROJECT_ROOT  # holds the reference tinytorch/ package

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INFRA = 0, 1, 2, 3
