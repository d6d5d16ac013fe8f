"""Write the canonical report atomically, and the registry of other formats rendered from it."""

from __future__ import annotations

import importlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from harness.report.model import Report

# format name -> "module:function"; each function is ``write(report, directory) -> Path``.
# Other parts add one line here for their formats (html, gradescope, csv, feedback).
FORMATS: dict[str, str] = {
    "json": "harness.report.writer:write_json",
    "junit": "harness.report.junit:write",
    "markdown": "harness.report.markdown:write",
    "csv": "harness.report.csv:write",
    "gradescope": "harness.report.gradescope:write",
    "feedback": "harness.report.feedback:write",
    "html": "harness.report.html:write",
}
Writer = Callable[[Report, Path], Path]


def atomic_write_text(path: Path, text: str) -> Path:
    """Write ``text`` to a temporary file beside ``path``, fsync it, then rename over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json(report: Report, directory: Path) -> Path:
    return atomic_write_text(Path(directory) / "report.json", report.model_dump_json(indent=2) + "\n")


def read_report(path: Path) -> Report:
    """Load a report.json written by any harness of the same schema version."""
    return Report.model_validate_json(Path(path).read_text(encoding="utf-8"))


def writer_for(name: str) -> Writer:
    if name not in FORMATS:
        raise ValueError(f"unknown report format {name!r}; choose from {', '.join(sorted(FORMATS))}")
    module_name, function = FORMATS[name].split(":")
    return getattr(importlib.import_module(module_name), function)


def write_formats(report: Report, directory: Path, formats: list[str]) -> dict[str, Path]:
    """Always report.json first (the source of truth), then every other format asked for."""
    written = {"json": write_json(report, directory)}
    for name in formats:
        if name != "json":
            written[name] = writer_for(name)(report, Path(directory))
    return written
