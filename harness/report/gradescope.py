"""Gradescope ``results.json``, one per submission, rendered from the canonical report.

Follows Gradescope's autograder specification: top-level ``score``, ``execution_time``,
``output``, ``stdout_visibility`` and ``tests``; one test per check (``name``, ``number``,
``score``, ``max_score``, ``status`` passed|failed, ``output``, ``tags``, ``visibility``).
Hidden checks become tests with visibility ``after_published``: students see them once the
instructor publishes grades, not while they can still resubmit.
"""

from __future__ import annotations

import json
from pathlib import Path

from harness.report.model import CheckResult, ExtraResult, Report, SubmissionResult
from harness.report.notes import budget_note, diagnosis_note
from harness.report.writer import atomic_write_text

DIRNAME = "gradescope"
HIDDEN_VISIBILITY = "after_published"
_OUTPUT_TAIL = 1500


def _check_output(extra: ExtraResult, check: CheckResult) -> str:
    lines = [check.reason, f"rule: {check.metric} {check.rule}"]
    if check.source == "self-reported":
        lines.append("source: self-reported (computed in your own process, not verified by the grader)")
    if check.value is not None:
        lines.append(f"measured: {check.value}")
    if check.seeds is not None:
        lines.append(f"rerun after a near miss: {check.seeds.describe()}")
    if check.explain:
        lines.append(f"why this check: {check.explain}")
    if check.verdict != "passed" and extra.diagnosis is not None:
        lines.append(f"diagnosis (the component most likely at fault): {extra.diagnosis.summary}")
    if check.verdict not in ("passed", "failed"):
        lines.append(f"the run itself {check.verdict.replace('_', ' ')}: {extra.reason}")
        if extra.run.stderr_tail.strip() and check.visibility == "visible":
            lines += ["", "stderr (last lines):", extra.run.stderr_tail[-_OUTPUT_TAIL:]]
    return "\n".join(lines)


def _tests(index: int, extra: ExtraResult) -> list[dict]:
    if not extra.checks:  # nothing to judge (e.g. not gradable): one test so the points are visible
        return [{"name": f"{extra.id}: {extra.title}", "number": f"{index}", "score": extra.score,
                 "max_score": extra.max_score, "status": "passed" if extra.verdict == "passed" else "failed",
                 "output": extra.reason, "tags": [extra.id], "visibility": "visible"}]
    return [{
        "name": f"{extra.id} / {check.name}",
        "number": f"{index}.{j}",
        "score": check.score,
        "max_score": check.max_score,
        "status": "passed" if check.verdict == "passed" else "failed",
        "output": _check_output(extra, check),
        "tags": [extra.id, check.verdict],
        "visibility": "visible" if check.visibility == "visible" else HIDDEN_VISIBILITY,
    } for j, check in enumerate(extra.checks, start=1)]


def results(report: Report, submission: SubmissionResult) -> dict:
    """The results.json document of one submission."""
    lines = [f"{submission.score:g}/{submission.max_score:g} points; status: {submission.status}"]
    lines += [f"{e.id}: {e.verdict} ({e.score:g}/{e.max_score:g})"
              + (f", {budget_note(e)}" if e.run.wall_budget else "")
              + (f"\n  {diagnosis_note(e)}" if e.diagnosis else "") for e in submission.extras]
    lines.append(f"graded with profile {report.provenance.profile}, seed {report.provenance.seed}, "
                 f"backend {report.provenance.backend}; submission {submission.hash}")
    return {
        "score": submission.score,
        "execution_time": round(sum(e.run.wall_seconds for e in submission.extras), 3),
        "output": "\n".join(lines),
        "stdout_visibility": "hidden",
        "tests": [test for i, extra in enumerate(submission.extras, start=1) for test in _tests(i, extra)],
    }


def write(report: Report, directory: Path) -> Path:
    """``DIRECTORY/gradescope/<submission>/results.json`` for every submission; returns the folder."""
    folder = Path(directory) / DIRNAME
    for submission in report.submissions:
        text = json.dumps(results(report, submission), indent=2) + "\n"
        atomic_write_text(folder / submission.name / "results.json", text)
    return folder
