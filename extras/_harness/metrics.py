"""Report metrics and artifacts from an extra to the harness.

Under the harness, ``$HARNESS_OUT`` is set: each call appends one JSON line to
``$HARNESS_OUT/metrics.jsonl`` (or writes a file there). Run directly by a student, the
helpers just print ``[metric] name = value`` so the script stays useful on its own.
The host never trusts this channel: it re-parses and type-checks everything.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np

METRICS_FILE = "metrics.jsonl"
_SAFE_FILENAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_reported: set[str] = set()


def out_dir() -> Path | None:
    """The directory the harness collects from, or None when run directly."""
    value = os.environ.get("HARNESS_OUT")
    return Path(value) if value else None


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not name:
        raise ValueError(f"metric name must be a non-empty string, got {name!r}")


def _check_filename(filename: str) -> None:
    if not isinstance(filename, str) or not _SAFE_FILENAME.match(filename) or filename in (".", ".."):
        raise ValueError(
            f"artifact file name {filename!r} must be a plain name of letters, digits, '_', '-', '.' "
            "(no directories)"
        )


def _plain(value):
    """Turn numpy scalars into Python ones; reject what JSON cannot carry faithfully."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (bool, int, float, str)):
        # NaN/inf are still recorded, so the host can say "metric is NaN", not "metric missing".
        return value
    raise TypeError(f"metric value must be a number, bool or string, got {type(value).__name__}")


def _append(record: dict) -> None:
    directory = out_dir()
    line = json.dumps(record, allow_nan=True)
    with open(directory / METRICS_FILE, "a", encoding="utf-8") as handle:
        handle.write(line + "\n")


def report(name: str, value: float | int | bool | str, note: str | None = None) -> None:
    """Record one scalar metric (once per name). ``note`` says how the value came about (what was
    tried, what was found): the grader shows it when the value is NaN, inf or misses its rule."""
    _check_name(name)
    value = _plain(value)
    if name in _reported:
        raise ValueError(f"metric {name!r} was already reported; report each scalar once")
    _reported.add(name)
    if out_dir() is None:
        print(f"[metric] {name} = {value}" + (f" ({note})" if note else ""))
        return
    record = {"kind": "scalar", "name": name, "value": value}
    if note:
        record["note"] = str(note)[:300]
    _append(record)


def series(name: str, values) -> None:
    """Record a series of numbers, e.g. the loss per epoch (kept for plots)."""
    _check_name(name)
    values = [float(_plain(v)) for v in np.asarray(values, dtype=np.float64).ravel().tolist()]
    if out_dir() is None:
        shown = ", ".join(f"{v:.4g}" for v in values)
        print(f"[metric] {name} = [{shown}]")
        return
    _append({"kind": "series", "name": name, "values": values})


def artifact(filename: str, array) -> Path | None:
    """Write ``array`` as ``$HARNESS_OUT/filename`` (.npy, never pickled); None when run directly."""
    _check_filename(filename)
    array = np.asarray(array)
    if array.dtype == object:
        raise TypeError(f"artifact {filename!r}: object arrays cannot be saved without pickle")
    directory = out_dir()
    if directory is None:
        print(f"[artifact] {filename}: shape {array.shape}, dtype {array.dtype} (not saved: no HARNESS_OUT)")
        return None
    path = directory / filename
    with open(path, "wb") as handle:  # a handle, so np.save keeps the exact name
        np.save(handle, array, allow_pickle=False)
    return path


def write_json(filename: str, obj) -> Path | None:
    """Write ``obj`` as JSON to ``$HARNESS_OUT/filename``; None when run directly."""
    _check_filename(filename)
    text = json.dumps(obj, indent=1, default=_plain)
    directory = out_dir()
    if directory is None:
        print(f"[artifact] {filename}: {len(text)} bytes of JSON (not saved outside the harness)")
        return None
    path = directory / filename
    path.write_text(text, encoding="utf-8")
    return path
