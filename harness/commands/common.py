"""Helpers shared by the subcommands: location options, loading criteria, and CommandError."""

from __future__ import annotations

import argparse
import difflib
from pathlib import Path

from harness.criteria import CriteriaError, Criterion, load_all
from harness.paths import CRITERIA_DIR, EXIT_USAGE, EXTRAS_DIR


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
    from harness.scoring import SCORERS

    problems = []
    if not (Path(extras_dir) / criterion.script).is_file():
        problems.append(f"{criterion.where('script')}: {criterion.script} not found in {extras_dir}")
    for i, check in enumerate(criterion.checks):
        if check.scorer is not None and check.scorer not in SCORERS:
            problems.append(f"{criterion.where('checks', i, 'scorer')}: unknown scorer {check.scorer!r}; "
                            f"expected one of {'|'.join(sorted(SCORERS))}")
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
