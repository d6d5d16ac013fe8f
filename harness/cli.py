"""``harness``: the command line. Subcommands are plugged in from ``harness.commands``."""

from __future__ import annotations

import argparse
import sys

from harness import __version__
from harness.commands import calibrate, check, data, diff, grade, image, listing, validate
from harness.commands.common import CommandError
from harness.paths import EXIT_USAGE

COMMANDS = (listing, validate, check, data, image, grade, diff, calibrate)  # in `harness --help` order


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="harness",
        description="Grade TinyTorch milestone extras against YAML criteria, in a sandbox, on the host.",
        epilog="exit codes: 0 all passed, 1 a check failed, 2 bad usage or configuration, "
               "3 infrastructure unavailable",
    )
    parser.add_argument("--version", action="version", version=f"harness {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(args.func(args))
    except CommandError as exc:
        print(f"harness {args.command}: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("harness: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
