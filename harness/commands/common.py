"""Helpers shared by the subcommands: location options, loading criteria, the pipeline, CommandError."""

from __future__ import annotations

import argparse
import difflib
from pathlib import Path

from harness.criteria import CriteriaError, Criterion, load_all
from harness.paths import CRITERIA_DIR, EXIT_USAGE, EXTRAS_DIR
from harness.pipeline import Pipeline, PipelineUnavailable


class CommandError(Exception):
    """Stops a command with a message for stderr and an exit code (2 usage/config, 3 infrastructure)."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE):
        super().__init__(message)
        self.exit_code = exit_code


def add_location_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--criteria-dir", type=Path, default=CRITERIA_DIR, metavar="DIR",
                        help="folder of criteria YAML files (default: this project's criteria/)")
    parser.add_argument("--extras-dir", type=Path, default=EXTRAS_DIR, metavar="DIR",
                        help="folder of extra scripts (default: this project's extras/)")


def load_criteria(criteria_dir: Path, files: list[Path] | None = None) -> dict[str, Criterion]:
    """All criteria, or CommandError listing every ``file:line: field: problem``."""
    if not files and not Path(criteria_dir).is_dir():
        raise CommandError(f"criteria folder {criteria_dir} does not exist; pass --criteria-dir DIR")
    try:
        criteria = load_all(criteria_dir, files)
    except CriteriaError as exc:
        raise CommandError("invalid criteria:\n  " + "\n  ".join(exc.problems)) from None
    if not criteria:
        raise CommandError(f"no criteria files (*.yaml) in {criteria_dir}")
    return criteria


def split_names(raw: list[str] | None) -> list[str]:
    """The values of a repeatable, comma-separated option: ``--x a,b --x c`` -> ``[a, b, c]``."""
    return [n.strip() for item in (raw or []) for n in item.split(",") if n.strip()]


def report_formats(raw: list[str] | None, default: str) -> list[str]:
    """The ``--format`` names (``default`` when none are given); exit 2 naming any unknown one."""
    from harness.report.formats import FORMATS

    names = split_names(raw or [default])
    unknown = [n for n in names if n not in FORMATS]
    if unknown:
        known = ", ".join(sorted(FORMATS))
        raise CommandError(f"unknown --format {', '.join(unknown)}; choose from {known}")
    return names


def require_valid(criteria: list[Criterion], extras_dir: Path) -> None:
    """Exit 2 listing every cross-check problem (``cross_check``) of ``criteria``."""
    problems = [p for c in criteria for p in cross_check(c, extras_dir)]
    if problems:
        raise CommandError("invalid criteria:\n  " + "\n  ".join(problems))


def add_executor_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dask-scheduler", default=None, metavar="tcp://HOST:PORT",
                        help="run the jobs on this Dask cluster's workers (each with its own --backend); "
                             "inputs are prepared and results judged here (docs/distributed.md)")


def open_pipeline(criteria: list[Criterion], args: argparse.Namespace, **fields) -> Pipeline:
    """The grading pipeline of a command's options (``--backend``, ``--profile``, ``--jobs``,
    ``--dask-scheduler``, ``--seed``, ``--extras-dir``); exit 3 (or the datasets' own code) with
    what to do when it cannot run here."""
    try:
        return Pipeline.open(criteria, backend=args.backend, profile=args.profile, jobs=args.jobs,
                             dask_scheduler=args.dask_scheduler, extras_dir=args.extras_dir, seed=args.seed,
                             **fields)
    except PipelineUnavailable as exc:
        raise CommandError(str(exc), exc.exit_code) from None


def note_speed(selected: list[Criterion], profile: str, quiet: bool = False) -> None:
    """Say in one line (stderr) when budgets stated for a reference machine are scaled by a default,
    stale or clamped speed factor; exit 2 for a malformed ``$HARNESS_SPEED_FACTOR``."""
    import sys

    from harness import calibrate

    try:
        note = calibrate.scaling_note(selected, profile)
    except calibrate.CalibrationError as exc:
        raise CommandError(str(exc)) from None
    if note and not quiet:
        print(f"harness: note: {note}", file=sys.stderr)


def select(criteria: dict[str, Criterion], names: list[str], everything: bool) -> list[Criterion]:
    """The criteria named on the command line (or all with --all), in the given order."""
    if everything:
        return list(criteria.values())
    if not names:
        raise CommandError("say which extras to check: NAME ... or --all (`harness list` shows them)")
    unknown = [n for n in names if n not in criteria]
    if unknown:
        hints = [f"{n!r}" + (f" (did you mean {m[0]!r}?)" if (m := difflib.get_close_matches(n, criteria, 1))
                             else "") for n in unknown]
        raise CommandError(f"unknown extra {', '.join(hints)}; known: {', '.join(criteria)}")
    return [criteria[n] for n in dict.fromkeys(names)]


def cross_check(criterion: Criterion, extras_dir: Path) -> list[str]:
    """Problems only visible beside the YAML: a missing script, an unknown scorer or dataset."""
    from harness.judging.scorers import SCORERS
    from harness.judging.verdicts import references_dir

    problems = []
    if not (Path(extras_dir) / criterion.script).is_file():
        problems.append(f"{criterion.where('script')}: {criterion.script} not found in {extras_dir}")
    for i, check in enumerate(criterion.checks):
        if check.scorer is not None and check.scorer not in SCORERS:
            problems.append(f"{criterion.where('checks', i, 'scorer')}: unknown scorer {check.scorer!r}; "
                            f"expected one of {'|'.join(sorted(SCORERS))}")
        references = references_dir(criterion)
        if check.reference is not None and references is not None \
                and not (references / check.reference).is_file():
            problems.append(f"{criterion.where('checks', i, 'reference')}: {check.reference} not found in "
                            f"{references} (reference files live beside the criteria, never in extras/)")
    known = _known_datasets()
    if known is not None:
        for i, name in enumerate(criterion.datasets):
            if name not in known:
                problems.append(f"{criterion.where('datasets', i)}: unknown dataset {name!r}; "
                                f"expected one of {'|'.join(known)}")
        for i, check in enumerate(criterion.checks):
            if check.labels and check.labels.split(":")[0] not in known:
                where = criterion.where("checks", i, "labels")
                problems.append(f"{where}: unknown dataset in {check.labels!r}")
    return problems


def _known_datasets() -> list[str] | None:
    try:
        from harness.datasets import names
    except ImportError:
        return None
    return list(names())
