"""Terminal output: live progress on a TTY, one plain line per job otherwise, and a summary table.

Text a script or a submission's name could carry is shown with ``_shown``: rich markup escaped,
control characters (cursor moves, terminal titles, clipboard writes) replaced.
"""

from __future__ import annotations

import sys
import time

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from harness.judging.verdicts import printable
from harness.report.model import ExtraResult, Report
from harness.report.notes import diagnosis_note, notes

STYLES = {"passed": "green", "failed": "red", "timeout": "yellow", "out_of_memory": "yellow",
          "crashed": "magenta", "not_gradable": "dim"}


def _shown(text: str) -> str:
    """``text`` for a place where rich reads markup: inert, and printable."""
    return escape(printable(text))


def make_console(stream=None) -> Console:
    """A console for results; logs (not a TTY) get 120 columns instead of rich's 80."""
    stream = stream or sys.stdout
    width = None if stream.isatty() else 120
    return Console(file=stream, highlight=False, soft_wrap=False, width=width)


class JobProgress:
    """Progress while jobs run: a live bar on a TTY, plain lines otherwise, nothing when quiet.

    With ``eta`` (long batches) the bar shows the time remaining instead of the time elapsed, and
    each plain line ends with the estimate, e.g. ``, eta 74 s``.
    """

    def __init__(self, console: Console, total: int, quiet: bool = False, eta: bool = False):
        self.console, self.total, self.quiet, self.eta, self.done = console, total, quiet, eta, 0
        self.started = time.monotonic()
        self._bar: Progress | None = None
        if not quiet and total and console.is_terminal:
            timing = (TextColumn("eta"), TimeRemainingColumn()) if eta else (TimeElapsedColumn(),)
            self._bar = Progress(TextColumn("[bold]grading"), BarColumn(), MofNCompleteColumn(), *timing,
                                 TextColumn("{task.description}"), console=console, transient=True)
            self._task = self._bar.add_task("", total=total)

    def __enter__(self) -> JobProgress:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.stop()

    def eta_seconds(self) -> float:
        elapsed = time.monotonic() - self.started
        return elapsed / self.done * (self.total - self.done) if self.done else float("nan")

    def finished(self, job_id: str, result: ExtraResult) -> None:
        self.done += 1
        line = (f"[{self.done}/{self.total}] {job_id}: {result.verdict} "
                f"{result.score:g}/{result.max_score:g} ({result.run.wall_seconds:.1f} s)")
        if self.eta:
            line += f", eta {self.eta_seconds():.0f} s"
        if self._bar is not None:
            self._bar.update(self._task, advance=1, description=_shown(job_id))
            self._bar.console.print(Text(line, style=STYLES[result.verdict]))  # Text: the bar keeps its style
        elif not self.quiet:
            self.console.print(line, markup=False, soft_wrap=True)  # one line per job, however long


def print_summary(report: Report, console: Console, quiet: bool = False) -> None:
    """A table per submission (or one line each when quiet)."""
    for sub in report.submissions:
        if quiet:
            console.print(f"{sub.name}: {sub.status} {sub.score:g}/{sub.max_score:g}", markup=False)
            continue
        table = Table(title=f"{_shown(sub.name)}: {sub.score:g}/{sub.max_score:g} points ({sub.status})",
                      title_justify="left")
        for column in ("extra", "verdict", "points", "time", "reason"):
            table.add_column(column, overflow="fold", no_wrap=column != "reason")
        for extra in sub.extras:
            table.add_row(extra.id, f"[{STYLES[extra.verdict]}]{extra.verdict}[/]",
                          f"{extra.score:g}/{extra.max_score:g}", f"{extra.run.wall_seconds:.1f} s",
                          _shown(extra.reason))
        console.print(table)
        for extra in sub.extras:
            for note in notes(extra):
                style = "bold" if note == diagnosis_note(extra) else "dim"  # "why did I fail?" stands out
                console.print(printable(f"{extra.id}: {note}"), style=style, markup=False, soft_wrap=True)
        claimed = sum(c.max_score for e in sub.extras for c in e.checks if c.source == "self-reported")
        if claimed:
            console.print(f"{claimed:g} of the {sub.max_score:g} points come from self-reported checks "
                          "(numbers the package's own process computed; labelled in every report)",
                          style="dim")
    if report.provenance.secrets != "instructor" and not quiet:
        console.print(f"secrets: {report.provenance.secrets}", style="dim")
    if not report.provenance.hidden_checks_included and not quiet:
        console.print("hidden checks were not run (only visible checks count here)", style="dim")
