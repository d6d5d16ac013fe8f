"""Per-student feedback in Markdown, rendered from the canonical report.

For each extra: what failed and why (visible checks only), the run's own failure (crash,
timeout, out of memory) with the last lines of stderr, and the exact command that reproduces
it locally. Hidden checks are never described: only "N hidden checks (not shown)", and their
points are left out of the per-extra numbers (the total grade at the top includes them). Text a
script could have chosen is escaped with ``markdown.md_text`` / ``md_fence``.
"""

from __future__ import annotations

from pathlib import Path

from harness.engine import DEFAULT_SEED
from harness.report.markdown import md_fence, md_text
from harness.report.model import ExtraResult, Report, SubmissionResult
from harness.report.notes import diagnosis_note, notes
from harness.report.writer import atomic_write_text

DIRNAME = "feedback"
ICONS = {"passed": "✅", "failed": "❌", "timeout": "⏱️", "out_of_memory": "💾", "crashed": "💥",
         "not_gradable": "⚪"}
RUN_FAILURES = ("timeout", "out_of_memory", "crashed", "not_gradable")
_STDERR_LINES = 25


def reproduce_command(report: Report, extra: ExtraResult) -> str:
    """The ``harness check`` command that runs this extra the way it was graded."""
    parts = ["harness", "check", extra.id]
    if extra.profile != "full":
        parts += ["--profile", extra.profile]
    if report.provenance.seed != DEFAULT_SEED:
        parts += ["--seed", str(report.provenance.seed)]
    if report.provenance.backend == "local":
        parts += ["--backend", "local"]
    return " ".join(parts)


def visible_outcome(extra: ExtraResult) -> tuple[str, float, float]:
    """(verdict, points, max points) as far as the student may see: the run, then visible checks."""
    visible = [c for c in extra.checks if c.visibility == "visible"]
    score = sum(c.score for c in visible)
    top = sum(c.max_score for c in visible)
    if extra.verdict in RUN_FAILURES:
        return extra.verdict, score, top
    return ("failed" if any(c.verdict != "passed" for c in visible) else "passed"), score, top


def _extra_section(report: Report, extra: ExtraResult) -> list[str]:
    verdict, score, top = visible_outcome(extra)
    hidden = [c for c in extra.checks if c.visibility == "hidden"]
    hidden_metrics = {c.metric for c in hidden}
    title = f"{ICONS[verdict]} {extra.id}: {verdict.replace('_', ' ')} ({score:g}/{top:g} visible points)"
    lines = ["", f"## {title}", "", f"*{extra.title}* (`extras/{extra.script}`)", ""]
    if extra.verdict in RUN_FAILURES:
        lines += [f"**The run did not finish normally:** {md_text(extra.reason, 1000)}", ""]
    failing = [c for c in extra.checks if c.visibility == "visible" and c.verdict != "passed"]
    passing = [c for c in extra.checks if c.visibility == "visible" and c.verdict == "passed"]
    if extra.diagnosis is not None:
        lines += [f"**Why it most likely failed:** {md_text(extra.diagnosis.summary, 1500)}", ""]
    if failing and extra.verdict not in RUN_FAILURES:
        lines.append("What failed:")
        for check in failing:
            lines.append(f"- `{check.name}`{check.source_label}: {md_text(check.reason)} "
                         f"(rule: `{check.metric} {check.rule}`, "
                         f"{check.score:g}/{check.max_score:g} points)")
            if check.explain:
                lines.append(f"  - why this check: {check.explain}")
        lines.append("")
    if passing:
        lines += [f"Passed: {', '.join(f'`{c.name}`' for c in passing)}", ""]
    extra_notes = [n for n in notes(extra, visible_only=True) if n != diagnosis_note(extra)]
    if extra_notes:
        lines += [f"- {md_text(note, 1000)}" for note in extra_notes] + [""]
    if hidden:
        lines += [f"{len(hidden)} hidden check{'s' if len(hidden) != 1 else ''} (not shown).", ""]
    problems = [p for p in extra.problems if not any(m in p for m in hidden_metrics)]
    if problems:
        lines += ["Problems with what the script wrote:"] + [f"- {md_text(p)}" for p in problems] + [""]
    stderr = extra.run.stderr_tail.strip()
    if stderr and extra.verdict in RUN_FAILURES:
        tail = "\n".join(stderr.splitlines()[-_STDERR_LINES:])
        lines += ["Last lines of stderr:", ""] + md_fence(tail) + [""]
    if verdict != "passed":
        lines += ["Reproduce locally:", "", "```bash", reproduce_command(report, extra), "```"]
    return lines


def render(report: Report, submission: SubmissionResult) -> str:
    p = report.provenance
    lines = [f"# Feedback for {md_text(submission.name)}", "",
             f"**Grade: {submission.score:g} / {submission.max_score:g} points**", "",
             f"Graded on {report.created_at} with profile `{p.profile}`, seed {p.seed}, "
             f"backend `{p.backend}`. " + (f"Submission hash `{submission.hash}`." if submission.hash
                                           else "The submission could not be read: see each extra."), "",
             "| extra | result | visible points |", "|---|---|---|"]
    for extra in submission.extras:
        verdict, score, top = visible_outcome(extra)
        lines.append(f"| {extra.id} | {ICONS[verdict]} {verdict.replace('_', ' ')} | {score:g}/{top:g} |")
    for extra in submission.extras:
        lines += _extra_section(report, extra)
    return "\n".join(lines).rstrip() + "\n"


def write(report: Report, directory: Path) -> Path:
    """``DIRECTORY/feedback/<submission>.md`` for every submission; returns the folder."""
    folder = Path(directory) / DIRNAME
    for submission in report.submissions:
        atomic_write_text(folder / f"{submission.name}.md", render(report, submission))
    return folder
