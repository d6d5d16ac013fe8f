"""``harness list``: the extras this project can check."""

from __future__ import annotations

import argparse

from rich.table import Table

from harness.commands.common import add_location_args, load_criteria
from harness.paths import EXIT_OK
from harness.report.terminal import make_console


def register(subparsers) -> None:
    parser = subparsers.add_parser("list", help="list the extras and their checks")
    add_location_args(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    criteria = load_criteria(args.criteria_dir)
    table = Table(title="extras")
    for column in ("id", "title", "milestone", "script", "checks", "points", "quick / full"):
        table.add_column(column, no_wrap=column in ("id", "script"))
    for c in criteria.values():
        hidden = sum(ch.visibility == "hidden" for ch in c.checks)
        full_only = sum(not ch.applies_to("quick") for ch in c.checks)
        quick_only = sum(not ch.applies_to("full") for ch in c.checks)
        notes = [f"{hidden} hidden"] * bool(hidden) + [f"{full_only} full only"] * bool(full_only) \
            + [f"{quick_only} quick only"] * bool(quick_only)
        checks = f"{len(c.checks)}" + (f" ({', '.join(notes)})" if notes else "")
        quick, full = c.max_score_for("quick"), c.max_score_for("full")
        points_text = f"{full:g}" if quick == full else f"{quick:g} quick, {full:g} full"
        seconds = f"{c.profiles['quick'].expected_seconds:g} s / {c.profiles['full'].expected_seconds:g} s"
        table.add_row(c.id, c.title, c.milestone, c.script, checks, points_text, seconds)
    make_console().print(table)
    return EXIT_OK
