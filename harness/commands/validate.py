"""``harness validate [FILES]``: check criteria files; every problem is reported with file:line."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.commands.common import CommandError, add_location_args, load_criteria, require_valid
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
    require_valid(list(criteria.values()), args.extras_dir)
    print(f"ok: {len(criteria)} criteria file(s) valid ({', '.join(criteria)})")
    return EXIT_OK
