"""``harness diff OLD.json NEW.json``: regressions and improvements between two reports."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pydantic import ValidationError

from harness.commands.common import CommandError
from harness.diff import compare, render_markdown, render_text
from harness.paths import EXIT_FAILED, EXIT_OK
from harness.report.writer import atomic_write_text, read_report


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "diff", help="compare two report.json files: regressions, improvements, metric deltas",
        description="Exit 1 when NEW has a regression (a worse verdict or a lower score) against OLD.")
    parser.add_argument("old", type=Path, metavar="OLD.json",
                        help="the baseline report (e.g. the base branch)")
    parser.add_argument("new", type=Path, metavar="NEW.json", help="the report to judge (e.g. the PR)")
    parser.add_argument("--format", choices=["text", "markdown"], default="text",
                        help="markdown suits PR comments and $GITHUB_STEP_SUMMARY (default: text)")
    parser.add_argument("--output", "-o", type=Path, default=None, metavar="FILE",
                        help="write to FILE instead of stdout")
    parser.set_defaults(func=run)


def _load(path: Path, role: str):
    try:
        return read_report(path)
    except OSError as exc:
        raise CommandError(f"{role} report {path}: cannot read it ({exc.strerror}); "
                           "pass a report.json") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise CommandError(f"{role} report {path}: not a harness report.json (schema_version 1): {where}: "
                           f"{first['msg']}; produce it with `harness check` or `harness grade`") from None


def run(args: argparse.Namespace) -> int:
    diff = compare(_load(args.old, "OLD"), _load(args.new, "NEW"))
    text = render_markdown(diff) if args.format == "markdown" else render_text(diff)
    if args.output is not None:
        atomic_write_text(args.output, text)
    else:
        sys.stdout.write(text)
    return EXIT_FAILED if diff.regressions else EXIT_OK
