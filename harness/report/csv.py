"""The gradebook: one CSV row per student, rendered from the canonical report.

Columns: ``student``, one points column per extra, ``total``, ``max_total``, ``status`` (the
worst verdict), ``failure_category`` (the distinct non-passed verdicts, worst first),
``failed_extras`` (``extra: verdict`` for each extra that did not pass) and ``hash``.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from harness.report.model import VERDICT_PRECEDENCE, Report, SubmissionResult
from harness.report.writer import atomic_write_text

FILENAME = "gradebook.csv"


def _text(value: str) -> str:
    """Neutralise spreadsheet formulas in free text (a student names their own archive)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def extra_ids(report: Report) -> list[str]:
    """Every extra in the report, in first-seen order."""
    return list(dict.fromkeys(e.id for _, e in report.all_extras()))


def header(report: Report) -> list[str]:
    return (["student"] + extra_ids(report)
            + ["total", "max_total", "status", "failure_category", "failed_extras", "hash"])


def row(submission: SubmissionResult, ids: list[str]) -> list[str]:
    by_id = {e.id: e for e in submission.extras}
    failing = [e for e in submission.extras if e.verdict != "passed"]
    categories = [v for v in VERDICT_PRECEDENCE if any(e.verdict == v for e in failing)]
    return ([_text(submission.name)]
            + [f"{by_id[i].score:g}" if i in by_id else "" for i in ids]
            + [f"{submission.score:g}", f"{submission.max_score:g}", submission.status,
               ";".join(categories), "; ".join(f"{e.id}: {e.verdict}" for e in failing), submission.hash])


def render(report: Report) -> str:
    ids = extra_ids(report)
    buffer = io.StringIO()
    out = csv.writer(buffer, lineterminator="\n")
    out.writerow(header(report))
    for submission in sorted(report.submissions, key=lambda s: s.name):
        out.writerow(row(submission, ids))
    return buffer.getvalue()


def write(report: Report, directory: Path) -> Path:
    return atomic_write_text(Path(directory) / FILENAME, render(report))
