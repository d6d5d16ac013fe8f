"""Host-side parsing of ``metrics.jsonl``: garbage becomes structured problems, never an exception."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from harness.judging.outfiles import MissingOutFile, OutFileError, read_capped

METRICS_FILE = "metrics.jsonl"
MAX_BYTES = 1024 * 1024
MAX_NAME = 100
Scalar = float | int | bool | str


@dataclass
class ParsedMetrics:
    """What the script reported, plus why any part of it cannot be trusted."""

    scalars: dict[str, Scalar] = field(default_factory=dict)
    series: dict[str, list[float | None]] = field(default_factory=dict)
    metric_problems: dict[str, str] = field(default_factory=dict)  # metric name -> why it is unusable
    notes: dict[str, str] = field(default_factory=dict)  # metric name -> how the script says it came about
    file_problems: list[str] = field(default_factory=list)  # problems not tied to one metric

    def problems(self) -> list[str]:
        return self.file_problems + list(self.metric_problems.values())


def parse_metrics(out_dir: Path | None, max_bytes: int = MAX_BYTES) -> ParsedMetrics:
    """Parse ``out_dir/metrics.jsonl`` line by line; a missing file is simply no metrics."""
    parsed = ParsedMetrics()
    try:
        raw = read_capped(out_dir, METRICS_FILE, max_bytes)
    except MissingOutFile:
        return parsed
    except OutFileError as exc:
        parsed.file_problems.append(str(exc))
        return parsed
    text = raw.decode("utf-8", errors="replace")
    lines = text.split("\n")
    truncated_last = not text.endswith("\n") and text != ""
    counts: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        last = number == len(lines)
        _parse_line(line, number, last and truncated_last, parsed, counts)
    for name, count in counts.items():
        if count > 1:
            parsed.scalars.pop(name, None)
            parsed.series.pop(name, None)
            parsed.metric_problems[name] = f"metric {name} reported {count} times; report each metric once"
    return parsed


def _parse_line(line: str, number: int, truncated: bool, parsed: ParsedMetrics, counts: dict) -> None:
    where = f"{METRICS_FILE} line {number}"
    try:
        record = json.loads(line)
    except ValueError:
        if truncated:
            parsed.file_problems.append(f"{where} is truncated (the script stopped while writing it)")
        else:
            parsed.file_problems.append(f"{where} is not valid JSON")
        return
    if not isinstance(record, dict):
        parsed.file_problems.append(f"{where} is not a JSON object")
        return
    name, kind = record.get("name"), record.get("kind")
    if not isinstance(name, str) or not name or len(name) > MAX_NAME:
        parsed.file_problems.append(f"{where} has no valid 'name' (a string of 1-{MAX_NAME} characters)")
        return
    counts[name] = counts.get(name, 0) + 1
    note = record.get("note")
    if isinstance(note, str) and note.strip():
        parsed.notes[name] = note.strip()[:300]
    if kind == "scalar":
        _scalar(record.get("value"), name, where, parsed)
    elif kind == "series":
        _series(record.get("values"), name, where, parsed)
    else:
        parsed.metric_problems[name] = f"{where}: metric {name} has kind {kind!r}, expected scalar|series"


def _scalar(value, name: str, where: str, parsed: ParsedMetrics) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        why = parsed.notes.get(name) or ("the script recorded no cause with it (no `note`); its output "
                                         "shows what it computed")
        parsed.metric_problems[name] = f"metric {name} is {value} (not a finite number): {why}"
    elif isinstance(value, (bool, int, float, str)) and not (isinstance(value, str) and len(value) > 1000):
        parsed.scalars[name] = value
    else:
        parsed.metric_problems[name] = (
            f"{where}: metric {name} has a value of type {type(value).__name__}, "
            "expected a number, bool or short string"
        )


def _series(values, name: str, where: str, parsed: ParsedMetrics) -> None:
    ok = isinstance(values, list) and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in values
    )
    if not ok:
        parsed.metric_problems[name] = f"{where}: series {name} must be a list of numbers"
        return
    # Non-finite points are kept as None: a diverging loss is worth plotting, never grade-bearing here.
    parsed.series[name] = [float(v) if math.isfinite(v) else None for v in values]
