"""``harness check [NAME ...] [--all]``: run extras against one tinytorch package and report."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

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
)
from harness.criteria import PROFILE_NAMES
from harness.executors import ClusterLost
from harness.paths import EXIT_FAILED, EXIT_INFRA, EXIT_OK, REFERENCE_SUBMISSION
from harness.pipeline import resolved
from harness.report import terminal
from harness.report.formats import FORMATS, write_formats


def register(subparsers) -> None:
    parser = subparsers.add_parser("check", help="run extras against a tinytorch package and judge them")
    parser.add_argument("names", nargs="*", metavar="NAME", help="extras to check (see `harness list`)")
    parser.add_argument("--all", action="store_true", help="check every extra")
    parser.add_argument("--tinytorch", type=Path, default=REFERENCE_SUBMISSION, metavar="PATH",
                        help="a folder containing tinytorch/, or the tinytorch/ folder itself "
                             "(default: this project's reference package)")
    parser.add_argument("--backend", choices=sorted(backends.BACKENDS), default="docker",
                        help="docker (isolated, default) or local (no isolation, for laptops)")
    parser.add_argument("--jobs", "-j", type=int, default=None, metavar="N",
                        help="jobs side by side (default: from cores, memory and each extra's budget)")
    parser.add_argument("--profile", choices=PROFILE_NAMES, default="full", help="default: full")
    parser.add_argument("--report-dir", type=Path, default=Path("reports"), metavar="DIR",
                        help="where report.json and the other formats go (default: ./reports)")
    parser.add_argument("--format", action="append", default=None, metavar="FMT",
                        help=f"extra report formats, repeatable or comma-separated: "
                             f"{', '.join(sorted(FORMATS))} (default: json,junit,markdown)")
    parser.add_argument("--seed", type=int, default=engine.DEFAULT_SEED, help="default: %(default)s")
    parser.add_argument("--hidden", action="store_true", help="also run hidden checks (instructors)")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress; one summary line each")
    add_executor_args(parser)
    add_location_args(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    formats = report_formats(args.format, "json,junit,markdown")
    if args.jobs is not None and args.jobs < 1:
        raise CommandError(f"--jobs must be at least 1, got {args.jobs}")
    selected = select(load_criteria(args.criteria_dir), args.names, args.all)
    require_valid(selected, args.extras_dir)
    try:
        name = "reference" if args.tinytorch == REFERENCE_SUBMISSION else None
        submission = engine.resolve_submission(args.tinytorch, name)
    except engine.SubmissionError as exc:
        raise CommandError(str(exc)) from None
    note_speed(selected, args.profile, args.quiet)
    pipeline = open_pipeline(selected, args, include_hidden=args.hidden)
    if args.backend == "local" and not args.quiet:
        who = "as you" if args.dask_scheduler is None else "on the Dask workers as their user"
        print(f"harness: local backend: scripts run {who}, without isolation (not a security boundary)",
              file=sys.stderr)

    console = terminal.make_console()
    try:
        with pipeline, terminal.JobProgress(console, total=len(selected), quiet=args.quiet) as progress:
            report = pipeline.grade(
                [resolved(submission)],
                on_result=lambda task, result: progress.finished(task.job.job_id, result)).report
    except ClusterLost as exc:
        raise CommandError(f"{exc}; the check stopped: rerun it once the scheduler is back",
                           EXIT_INFRA) from None
    written = write_formats(report, args.report_dir, formats)
    _append_github_summary(written)
    terminal.print_summary(report, console, quiet=args.quiet)
    if not args.quiet:
        console.print(f"report: {written['json']}", markup=False)
    return EXIT_OK if all(s.status == "passed" for s in report.submissions) else EXIT_FAILED


def _append_github_summary(written: dict[str, Path]) -> None:
    """On GitHub Actions, add the Markdown summary to the job's step summary."""
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary and "markdown" in written:
        with open(summary, "a", encoding="utf-8") as handle:
            handle.write(written["markdown"].read_text(encoding="utf-8") + "\n")
