"""Markdown for ``$GITHUB_STEP_SUMMARY`` and pull-request comments, rendered from the report.

Every text a script could have chosen (reasons, values, problems, stderr, submission names) goes
through ``md_text`` (one line) or ``md_fence`` (a code block), here and in ``feedback.py``: no
tag, link, image or table cell of the page can come from a submission.
"""

from __future__ import annotations

import re
from pathlib import Path

from harness.judging.verdicts import printable
from harness.report.model import ExtraResult, Report, SubmissionResult
from harness.report.notes import notes
from harness.report.writer import atomic_write_text

ICONS = {"passed": "✅", "failed": "❌", "timeout": "⏱️", "out_of_memory": "💾", "crashed": "💥",
         "not_gradable": "⚪"}


# Entities, not backslashes: the same text is also put inside the raw HTML of <summary>, where
# entities are decoded and backslashes would show. `|` alone is backslash-escaped (table cells).
_MD_SPECIAL = {"\\": "&#92;", "`": "&#96;", "[": "&#91;", "]": "&#93;", "@": "&#64;", "|": "\\|"}
# What starts markup: a tag, comment or autolink (`<` then a letter, / ! ?), an entity (`&` then a
# letter or #), a bare URL GitHub links by itself (`scheme://`, `www.`). A `<` or `&` before
# anything else is plain text, and stays readable: "0.91 < 0.950 required".
_MARKUP_START = re.compile(r"&(?=[#A-Za-z])|<(?=[A-Za-z/!?])|(?<=[A-Za-z]):(?=//)|(?<=www)\.", re.IGNORECASE)


def md_text(text, limit: int = 300) -> str:
    """``text`` as inert Markdown on one line: control characters replaced, whitespace collapsed,
    cut at ``limit`` characters, HTML and the characters of links, code and table cells escaped,
    bare URLs broken."""
    flat = " ".join(printable(str(text)).split())[:limit]
    broken = _MARKUP_START.sub(lambda m: f"&#{ord(m.group())};", flat)
    return "".join(_MD_SPECIAL.get(char, char) for char in broken)


def md_fence(text: str, info: str = "text") -> list[str]:
    """``text`` as a fenced code block (its lines literal, control characters replaced); a fence
    inside it cannot close it."""
    return [f"```{info}", printable(text).replace("```", "'''").rstrip(), "```"]


def _hidden_note(report: Report) -> str:
    if report.provenance.hidden_checks_included:
        return "**Hidden checks: included** — scores below count visible and hidden checks."
    return ("**Hidden checks: not run** — only visible checks ran here; the final grade may include "
            "hidden checks.")


def _extra_details(extra: ExtraResult) -> list[str]:
    summary = f"{ICONS[extra.verdict]} {extra.id}: {md_text(extra.reason)}"
    lines = ["", f"<details><summary>{summary}</summary>", "",
             "| check | value | rule | verdict | points | reason |", "|---|---|---|---|---|---|"]
    if extra.diagnosis is not None:
        lines[3:3] = [f"**Diagnosis:** {md_text(extra.diagnosis.summary, 1500)}", ""]
    for check in extra.checks:
        value = "—" if check.value is None else check.value
        rule = md_text(f"{check.metric} {check.rule}")
        name = md_text(check.name + check.source_label)
        lines.append(f"| {name} | {md_text(value)} | {rule} | {check.verdict} | "
                     f"{check.score:g}/{check.max_score:g} | {md_text(check.reason)} |")
    if extra.problems:
        lines += ["", "Problems with the script's output:", ""] + [f"- {md_text(p)}" for p in extra.problems]
    if extra.run.stderr_tail.strip() and extra.verdict != "passed":
        lines += ["", "stderr (last lines):", ""] + md_fence(extra.run.stderr_tail[-1500:])
    lines += ["", "</details>"]
    return lines


def _submission(sub: SubmissionResult) -> list[str]:
    points = f"{sub.score:g} / {sub.max_score:g} points"
    title = f"{ICONS[sub.status]} {md_text(sub.name)}: {points} ({sub.status})"
    lines = [f"### {title}", "",
             "| extra | verdict | points | time | reason |", "|---|---|---|---|---|"]
    for extra in sub.extras:
        points = f"{extra.score:g}/{extra.max_score:g}"
        lines.append(f"| {extra.id} | {ICONS[extra.verdict]} {extra.verdict} | {points} | "
                     f"{extra.run.wall_seconds:.1f} s | {md_text(extra.reason)} |")
    extra_notes = [f"- {extra.id}: {md_text(note)}" for extra in sub.extras for note in notes(extra)]
    if extra_notes:
        lines += [""] + extra_notes
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
