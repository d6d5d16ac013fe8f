"""`harness data fetch|import|verify|list`: manage the dataset cache."""

from __future__ import annotations

import argparse
import sys

from rich.console import Console
from rich.table import Table

from .. import datasets


def register(subparsers) -> None:
    """Add the `data` command (with its four subcommands) to the top-level parser."""
    parser = subparsers.add_parser(
        "data", help="download, import, verify and list the datasets the extras need",
        description="Manage the dataset cache ($HARNESS_DATA, else the user cache directory).")
    commands = parser.add_subparsers(dest="data_command", metavar="COMMAND", required=True)

    fetch = commands.add_parser("fetch", help="download datasets from their official sources, verified")
    fetch.add_argument("names", nargs="*", metavar="NAME", help="datasets to fetch (default: all)")
    fetch.add_argument("--quiet", action="store_true", help="no progress bar")
    fetch.set_defaults(func=_fetch)

    imp = commands.add_parser("import", help="copy a dataset from a local folder or file (offline)")
    imp.add_argument("name", metavar="NAME", help=f"one of: {', '.join(datasets.names())}")
    imp.add_argument("path", metavar="PATH", help="folder or file holding the dataset, "
                     "e.g. ../shared/datasets/mnist")
    imp.set_defaults(func=_import)

    verify = commands.add_parser("verify", help="re-hash cached datasets against the registry")
    verify.add_argument("names", nargs="*", metavar="NAME", help="datasets to verify (default: all cached)")
    verify.set_defaults(func=_verify)

    lst = commands.add_parser("list", help="the registered datasets and their cache state")
    lst.set_defaults(func=_list)


def _console() -> Console:
    return Console(highlight=False, soft_wrap=True)


def _fail(exc: datasets.DatasetError) -> int:
    Console(stderr=True, highlight=False, soft_wrap=True).print(f"[bold red]error:[/] {exc}", markup=True)
    return exc.exit_code


def _fetch(args: argparse.Namespace) -> int:
    out = _console()
    try:
        for name in args.names or datasets.names():
            path = datasets.fetch(name, quiet=args.quiet)
            out.print(f"{name}: downloaded and verified -> {path}")
    except datasets.DatasetError as exc:
        return _fail(exc)
    return 0


def _import(args: argparse.Namespace) -> int:
    try:
        path = datasets.import_from(args.name, args.path)
    except datasets.DatasetError as exc:
        return _fail(exc)
    _console().print(f"{args.name}: imported and verified -> {path}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    out = _console()
    names = args.names or [s.name for s in datasets.list_status() if s.state != "missing"]
    if not names:
        out.print(f"no dataset in the cache {datasets.cache_root()}; "
                  "run `harness data import NAME PATH` or `harness data fetch NAME`")
        return 1
    failed = 0
    for name in names:
        try:
            datasets.verify(name)
            out.print(f"{name}: ok")
        except datasets.UnknownDatasetError as exc:
            return _fail(exc)
        except datasets.DatasetError as exc:
            _fail(exc)
            failed += 1
    return 1 if failed else 0


def _list(args: argparse.Namespace) -> int:
    table = Table(title=f"datasets in {datasets.cache_root()}")
    for column in ("name", "state", "description", "path"):
        table.add_column(column)
    for status in datasets.list_status():
        table.add_row(status.name, status.state, status.title, str(status.path))
    Console(width=None if sys.stdout.isatty() else 160).print(table)
    return 0
