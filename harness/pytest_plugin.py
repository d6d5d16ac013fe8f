"""A pytest plugin: criteria/*.yaml collected as test items, one per extra (opt-in with --harness).

    pytest --harness criteria/ [--harness-tinytorch PATH] [--harness-backend local] [-n 2]
           [--harness-dask-scheduler tcp://HOST:8786]

Like pytest's documented YAML example: a ``pytest.File`` per criteria file yields one item per
extra; the item grades the extra through the same pipeline as ``harness check``
(``harness.pipeline``, here or on a Dask cluster). A failing verdict fails the test with the check
table; ``not_gradable``, or a backend, dataset or cluster that is not available, skips it with the
reason.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import backends
from harness.criteria import PROFILE_NAMES, CriteriaError, Criterion, load_criterion
from harness.engine import resolve_submission
from harness.paths import EXTRAS_DIR, REFERENCE_SUBMISSION
from harness.pipeline import Pipeline, PipelineUnavailable, resolved
from harness.report.model import ExtraResult


def pytest_addoption(parser) -> None:
    group = parser.getgroup("harness", "tinytorch-harness: criteria files as tests")
    group.addoption("--harness", action="store_true", help="collect criteria/*.yaml as harness checks")
    group.addoption("--harness-tinytorch", default=str(REFERENCE_SUBMISSION), metavar="PATH",
                    help="submission to check (a folder holding tinytorch/, or tinytorch/ itself)")
    group.addoption("--harness-backend", default="docker", choices=sorted(backends.BACKENDS))
    group.addoption("--harness-profile", default="quick", choices=PROFILE_NAMES)
    group.addoption("--harness-extras-dir", default=str(EXTRAS_DIR), metavar="DIR")
    group.addoption("--harness-hidden", action="store_true", help="also run hidden checks")
    group.addoption("--harness-dask-scheduler", default=None, metavar="tcp://HOST:PORT",
                    help="run each extra on this Dask cluster's workers (docs/distributed.md)")


def pytest_collect_file(parent, file_path: Path):
    is_criterion = file_path.suffix == ".yaml" and file_path.parent.name == "criteria"
    if is_criterion and parent.config.getoption("harness"):
        return CriteriaFile.from_parent(parent, path=file_path)
    return None


class CriteriaFile(pytest.File):
    def collect(self):
        try:
            criterion = load_criterion(self.path)
        except CriteriaError as exc:
            raise self.CollectError("\n".join(exc.problems)) from None
        yield ExtraItem.from_parent(self, name=criterion.id, criterion=criterion)


class ExtraFailed(Exception):
    """Raised by an item whose extra did not pass; carries the judged result."""

    def __init__(self, result: ExtraResult):
        super().__init__(result.reason)
        self.result = result


class ExtraItem(pytest.Item):
    def __init__(self, *, criterion: Criterion, **kwargs):
        super().__init__(**kwargs)
        self.criterion = criterion

    def runtest(self) -> None:
        option = self.config.getoption
        submission = resolve_submission(Path(option("harness_tinytorch")))
        try:
            pipeline = Pipeline.open([self.criterion], backend=option("harness_backend"),
                                     profile=option("harness_profile"), jobs=1,
                                     dask_scheduler=option("harness_dask_scheduler"),
                                     extras_dir=Path(option("harness_extras_dir")),
                                     include_hidden=option("harness_hidden"))
        except PipelineUnavailable as exc:
            pytest.skip(str(exc))
        with pipeline:
            result = pipeline.grade([resolved(submission)]).report.submissions[0].extras[0]
        if result.verdict == "not_gradable":
            pytest.skip(result.reason)
        if result.verdict != "passed":
            raise ExtraFailed(result)

    def repr_failure(self, excinfo, style=None):
        if not isinstance(excinfo.value, ExtraFailed):
            return super().repr_failure(excinfo)
        result = excinfo.value.result
        lines = [f"{result.id}: {result.verdict}: {result.reason}"]
        lines += [f"  {c.verdict:>13}  {c.name}: {c.reason} ({c.score:g}/{c.max_score:g})"
                  for c in result.checks]
        if result.run.stderr_tail.strip() and result.verdict != "failed":
            lines += ["stderr (tail):", result.run.stderr_tail[-1500:]]
        return "\n".join(lines)

    def reportinfo(self):
        return self.path, 0, f"extra: {self.name}"
