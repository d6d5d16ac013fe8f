"""Every report format by name: a static registry of ``write(report, directory) -> Path`` functions."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from harness.report import csv, feedback, gradescope, html, junit, markdown
from harness.report.model import Report
from harness.report.writer import write_json

Writer = Callable[[Report, Path], Path]

FORMATS: dict[str, Writer] = {
    "json": write_json,
    "junit": junit.write,
    "markdown": markdown.write,
    "csv": csv.write,
    "gradescope": gradescope.write,
    "feedback": feedback.write,
    "html": html.write,
}


def write_formats(report: Report, directory: Path, formats: list[str]) -> dict[str, Path]:
    """Always report.json first (the source of truth), then every other format asked for."""
    unknown = [name for name in formats if name not in FORMATS]
    if unknown:
        raise ValueError(f"unknown report format {unknown[0]!r}; choose from {', '.join(sorted(FORMATS))}")
    written = {"json": write_json(report, directory)}
    for name in formats:
        if name != "json":
            written[name] = FORMATS[name](report, Path(directory))
    return written
