"""Write the canonical report atomically (other formats: harness/report/formats.py)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from harness.report.model import Report


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
