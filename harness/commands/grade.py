"""``harness grade SUBMISSION ...``: grade a class, resume after interruption, write the exports."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from harness import backends, engine
from harness.commands.common import (
    CommandError,
    add_executor_args,
    add_location_args,
    load_criteria,
    note_speed,
    open_pipeline,
    report_formats,
    require_valid,
    select,
    split_names,
)
from harness.criteria import PROFILE_NAMES
from harness.executors import ClusterLost
from harness.paths import EXIT_FAILED, EXIT_INFRA, EXIT_OK
from harness.report import terminal
from harness.report.formats import write_formats
from harness.result_cache import ResultCache
from harness.submissions import ResolvedSubmission, SubmissionError, resolve_submissions

GRADE_FORMATS = "json,csv,gradescope,feedback,html,junit,markdown"


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "grade", help="grade many submissions (folders, archives, git repos) and export a gradebook",
        description="Run every extra against every submission, with hidden checks. Finished results are "
                    "cached in OUT/cache: a rerun (e.g. after Ctrl-C) only runs what is missing.")
    parser.add_argument("submissions", nargs="+", type=Path, metavar="SUBMISSION",
                        help="a folder containing tinytorch/, an archive (.zip, .tar.gz, .tgz), a git "
                             "repository, or a folder holding any number of those (one per student)")
    parser.add_argument("--extra", action="append", default=None, metavar="NAME",
                        help="grade only these extras (repeatable or comma-separated; default: all)")
    parser.add_argument("--all", action="store_true", help="grade every extra (the default)")
    parser.add_argument("--backend", choices=sorted(backends.BACKENDS), default="docker",
                        help="docker (isolated, default) or local (no isolation: needs the next option)")
    parser.add_argument("--i-know-local-is-not-isolated", action="store_true",
                        help="allow --backend local, which runs every submission as you, unconfined")
    parser.add_argument("--jobs", "-j", type=int, default=None, metavar="N",
                        help="jobs side by side (default: from cores, memory and each extra's budget)")
    parser.add_argument("--profile", choices=PROFILE_NAMES, default="full", help="default: full")
    parser.add_argument("--seed", type=int, default=engine.DEFAULT_SEED, help="default: %(default)s")
    parser.add_argument("--out", type=Path, default=Path("grades"), metavar="DIR",
                        help="where the report, gradebook and exports go (default: ./grades)")
    parser.add_argument("--cache-dir", type=Path, default=None, metavar="DIR",
                        help="cached results and extracted archives (default: OUT/cache)")
    parser.add_argument("--force", action="store_true", help="regrade everything, ignoring cached results")
    parser.add_argument("--format", action="append", default=None, metavar="FMT",
                        help=f"formats to write, comma-separated (default: {GRADE_FORMATS})")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress lines")
    add_executor_args(parser)
    add_location_args(parser)
    parser.set_defaults(func=run)


def _progress(console: Console, to_run: int, cached: int, quiet: bool) -> terminal.JobProgress:
    """Counts and ETA: a live bar on a TTY, one plain line per finished job otherwise."""
    if not quiet:
        console.print(f"{cached} results cached, {to_run} jobs to run", markup=False, soft_wrap=True)
    return terminal.JobProgress(console, to_run, quiet, eta=True)


def _print_gradebook(report, console: Console) -> None:
    table = Table(title=f"{len(report.submissions)} submissions", title_justify="left")
    for column in ("student", "points", "status", "not passed"):
        table.add_column(column, overflow="fold")
    for sub in sorted(report.submissions, key=lambda s: s.name):
        failing = ", ".join(f"{e.id} ({e.verdict})" for e in sub.extras if e.verdict != "passed")
        table.add_row(sub.name, f"{sub.score:g}/{sub.max_score:g}",
                      f"[{terminal.STYLES[sub.status]}]{sub.status}[/]", failing.replace("[", "\\["))
    console.print(table)


def _refuse_unconfined(args: argparse.Namespace) -> None:
    """The local backend runs a whole class's code as the instructor: only when asked for in so many words."""
    if args.backend == "local" and not args.i_know_local_is_not_isolated:
        raise CommandError("--backend local runs every submission's code as you, with your files, network "
                           "and credentials, without isolation: any student could read or change anything "
                           "you can. Grade with the docker backend (`harness image build` once), or add "
                           "--i-know-local-is-not-isolated if you trust every submission")


def _report_problems(submissions: list[ResolvedSubmission]) -> None:
    """Say on stderr (even with -q) which submissions cannot be graded and why: not_gradable rows."""
    for sub in submissions:
        if sub.problem:
            print(f"harness grade: {sub.name}: not gradable: {sub.problem}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    _refuse_unconfined(args)
    formats = report_formats(args.format, GRADE_FORMATS)
    if args.jobs is not None and args.jobs < 1:
        raise CommandError(f"--jobs must be at least 1, got {args.jobs}")
    names = split_names(args.extra)
    selected = select(load_criteria(args.criteria_dir), names, args.all or not names)
    require_valid(selected, args.extras_dir)
    cache_dir = args.cache_dir or args.out / "cache"
    try:
        submissions = resolve_submissions(args.submissions, cache_dir / "submissions")
    except SubmissionError as exc:
        raise CommandError(str(exc)) from None
    _report_problems(submissions)
    note_speed(selected, args.profile, args.quiet)
    cache = ResultCache(cache_dir / "results")
    pipeline = open_pipeline(selected, args, include_hidden=True, cache=cache, force=args.force)
    console = terminal.make_console()
    try:
        with pipeline:
            batch = pipeline.plan(submissions)
            with _progress(console, len(batch.tasks), len(batch.cached), args.quiet) as progress:
                outcome = pipeline.execute(
                    batch, on_result=lambda task, result: progress.finished(task.job.job_id, result))
    except KeyboardInterrupt:
        print(f"interrupted: finished results are kept in {cache.root}; run the same command again "
              "to resume", file=sys.stderr)
        raise
    except ClusterLost as exc:
        raise CommandError(f"{exc}; the batch stopped: finished results are kept in {cache.root}; run the "
                           "same command again to resume", EXIT_INFRA) from None
    written = write_formats(outcome.report, args.out, formats)
    if not args.quiet:
        _print_gradebook(outcome.report, console)
        console.print(f"ran {len(outcome.executed)} jobs, reused {len(outcome.cached)} cached results; "
                      f"wrote {', '.join(str(p) for p in written.values())}", markup=False, soft_wrap=True)
    return EXIT_OK if all(s.status == "passed" for s in outcome.report.submissions) else EXIT_FAILED
