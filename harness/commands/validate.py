"""``harness validate [FILES]``: check criteria files; every problem is reported with file:line."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.commands.common import CommandError, add_location_args, cross_check, load_criteria
from harness.paths import EXIT_OK


def register(subparsers) -> None:
    parser = subparsers.add_parser("validate", help="validate criteria YAML files (all by default)")
    parser.add_argument("files", nargs="*", type=Path, metavar="FILE", help="criteria files to check")
    add_location_args(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    missing = [str(f) for f in args.files if not f.is_file()]
    if missing:
        raise CommandError(f"no such criteria file: {', '.join(missing)}")
    criteria = load_criteria(args.criteria_dir, args.files or None)
    problems = [p for c in criteria.values() for p in cross_check(c, args.extras_dir)]
    if problems:
        raise CommandError("invalid criteria:\n  " + "\n  ".join(problems))
    print(f"ok: {len(criteria)} criteria file(s) valid ({', '.join(criteria)})")
    return EXIT_OK
