"""Terminal output: plain lines off a TTY, a live bar on one, silence with --quiet."""

from __future__ import annotations

import io
import re

from rich.console import Console

from harness.report.terminal import JobProgress, print_summary
from tests.harness.test_reports import sample_report


def finish_all(console: Console, quiet: bool = False) -> str:
    report = sample_report()
    extras = report.submissions[0].extras
    with JobProgress(console, total=len(extras), quiet=quiet) as progress:
        for extra in extras:
            progress.finished(f"alice/{extra.id}", extra)
    return console.file.getvalue()


def test_plain_lines_when_not_a_tty():
    out = finish_all(Console(file=io.StringIO(), force_terminal=False, width=120))
    lines = out.splitlines()
    assert lines[0] == "[1/5] alice/good: passed 2/2 (1.5 s)"
    assert lines[1] == "[2/5] alice/weak: failed 1.5/3 (1.5 s)"
    assert len(lines) == 5 and "\x1b[" not in out


def test_live_bar_on_a_tty_still_lists_each_job():
    out = finish_all(Console(file=io.StringIO(), force_terminal=True, width=120, highlight=False))
    assert "\x1b[" in out  # colours and cursor movement of the live bar
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out)
    assert "[3/5] alice/boom: crashed 0/1 (1.5 s)" in plain and "5/5" in plain


def test_quiet_prints_nothing_while_running_and_one_line_per_submission():
    console = Console(file=io.StringIO(), force_terminal=False, width=120)
    assert finish_all(console, quiet=True) == ""
    print_summary(sample_report(), console, quiet=True)
    assert console.file.getvalue() == "alice: not_gradable 3.5/9\n"


def test_summary_table_shows_reasons_with_brackets_verbatim():
    console = Console(file=io.StringIO(), force_terminal=False, width=200)
    report = sample_report()
    report.submissions[0].extras[0].reason = "shape [3, 4] != [4, 3]"
    print_summary(report, console)
    out = console.file.getvalue()
    assert "shape [3, 4] != [4, 3]" in out and "hidden checks were not run" in out


def test_eta_lines_for_long_batches():
    console = Console(file=io.StringIO(), force_terminal=False, width=120)
    extras = sample_report().submissions[0].extras
    with JobProgress(console, total=len(extras), eta=True) as progress:
        for extra in extras:
            progress.finished(f"alice/{extra.id}", extra)
    lines = console.file.getvalue().splitlines()
    assert len(lines) == 5 and re.fullmatch(r"\[1/5\] alice/good: passed 2/2 \(1\.5 s\), eta \d+ s", lines[0])
    assert lines[-1].endswith(", eta 0 s")
