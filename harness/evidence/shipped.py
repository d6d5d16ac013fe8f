"""The extras' own pure-numpy task helpers (``extras/_harness``), loaded on the host.

The host decodes answers and completions exactly as the extras do (same vocabulary, prompts,
greedy decoding, data files) by importing this project's ``extras/_harness`` modules under a
private package name. They come from the grader's checkout, never from the sandbox, and import
nothing of a student's package.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

EXTRAS_HELPERS = Path(__file__).resolve().parents[2] / "extras" / "_harness"
PACKAGE = "_harness_on_host"


def helper(module: str) -> ModuleType:
    """``extras/_harness/<module>.py`` as ``_harness_on_host.<module>``."""
    if PACKAGE not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            PACKAGE, EXTRAS_HELPERS / "__init__.py", submodule_search_locations=[str(EXTRAS_HELPERS)])
        package = importlib.util.module_from_spec(spec)
        sys.modules[PACKAGE] = package
        spec.loader.exec_module(package)
    return importlib.import_module(f"{PACKAGE}.{module}")
