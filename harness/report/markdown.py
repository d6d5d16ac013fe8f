"""Markdown for ``$GITHUB_STEP_SUMMARY`` and pull-request comments, rendered from the report."""

from __future__ import annotations

from pathlib import Path

from harness.report.model import ExtraResult, Report, SubmissionResult
from harness.report.writer import atomic_write_text

ICONS = {"passed": "✅", "failed": "❌", "timeout": "⏱️", "out_of_memory": "💾", "crashed": "💥",
         "not_gradable": "⚪"}


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")[:300]


def _hidden_note(report: Report) -> str:
    if report.provenance.hidden_checks_included:
        return "**Hidden checks: included** — scores below count visible and hidden checks."
    return ("**Hidden checks: not run** — only visible checks ran here; the final grade may include "
            "hidden checks.")


def _extra_details(extra: ExtraResult) -> list[str]:
    lines = ["", f"<details><summary>{ICONS[extra.verdict]} {extra.id}: {_cell(extra.reason)}</summary>", "",
             "| check | value | rule | verdict | points | reason |", "|---|---|---|---|---|---|"]
    for check in extra.checks:
        value = "—" if check.value is None else check.value
        lines.append(f"| {check.name} | {_cell(value)} | {_cell(check.metric + ' ' + check.rule)} | "
                     f"{check.verdict} | {check.score:g}/{check.max_score:g} | {_cell(check.reason)} |")
    if extra.problems:
        lines += ["", "Problems with the script's output:", ""] + [f"- {_cell(p)}" for p in extra.problems]
    if extra.run.stderr_tail.strip() and extra.verdict != "passed":
        tail = extra.run.stderr_tail[-1500:].replace("```", "'''")
        lines += ["", "stderr (last lines):", "", "```text", tail.rstrip(), "```"]
    lines += ["", "</details>"]
    return lines


def _submission(sub: SubmissionResult) -> list[str]:
    title = f"{ICONS[sub.status]} {sub.name}: {sub.score:g} / {sub.max_score:g} points ({sub.status})"
    lines = [f"### {title}", "",
             "| extra | verdict | points | time | reason |", "|---|---|---|---|---|"]
    for extra in sub.extras:
        points = f"{extra.score:g}/{extra.max_score:g}"
        lines.append(f"| {extra.id} | {ICONS[extra.verdict]} {extra.verdict} | {points} | "
                     f"{extra.run.wall_seconds:.1f} s | {_cell(extra.reason)} |")
    for extra in sub.extras:
        if extra.verdict != "passed":
            lines += _extra_details(extra)
    return lines


def render(report: Report) -> str:
    p = report.provenance
    lines = ["## TinyTorch harness report", "", _hidden_note(report), "",
             f"Profile `{p.profile}`, backend `{p.backend}`, seed {p.seed}, "
             f"harness {report.harness_version}.", ""]
    for sub in report.submissions:
        lines += _submission(sub) + [""]
    return "\n".join(lines)


def write(report: Report, directory: Path) -> Path:
    return atomic_write_text(Path(directory) / "summary.md", render(report))
