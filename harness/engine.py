"""One (submission, extra) pair from task to judged result, and the report built from results.

``harness.pipeline.Pipeline`` drives it for every command: ``build_task`` makes a pair's job,
``Engine.run_task`` runs and judges it (never raising for what a script does), ``make_report``
assembles the canonical report.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from harness import __version__, calibrate, diagnose, stochastic
from harness.criteria import Criterion
from harness.evidence.runs import EvidenceRun, prepare_run
from harness.evidence.secrets import active_secrets
from harness.judging.outfiles import remove_tree
from harness.judging.scorers import ScoringUnavailable
from harness.judging.verdicts import judge, missing_modules
from harness.provenance import combined_hash, criterion_file_hash, machine_info, tree_hash
from harness.report.model import ExtraResult, Provenance, Report, SubmissionResult, WallBudget, worst
from harness.runners.base import Budget, Job, Runner, RunResult

DEFAULT_SEED = 1337


class SubmissionError(ValueError):
    """A path given as a submission holds no gradable ``tinytorch`` package (the message says why)."""


@dataclass(frozen=True)
class Submission:
    name: str
    root: Path  # the directory that contains the ``tinytorch/`` package
    hash: str = ""  # tree hash of ``tinytorch/``, computed once when the submission is resolved


def resolve_submission(path: Path, name: str | None = None) -> Submission:
    """Accept a directory containing ``tinytorch/`` or the ``tinytorch/`` package dir itself.

    The package is checked (``check_package``) before any link in the path is resolved.
    """
    path = Path(path).expanduser().absolute()
    if (path / "tinytorch" / "__init__.py").is_file():
        root = path
    elif path.name == "tinytorch" and (path / "__init__.py").is_file():
        root = path.parent
    else:
        raise SubmissionError(
            f"{path} is not a tinytorch submission: expected {path}/tinytorch/__init__.py "
            "or a tinytorch/ package directory; pass --tinytorch PATH to the right folder"
        )
    check_package(root / "tinytorch")
    root = root.resolve()
    return Submission(name=name or root.name, root=root, hash=tree_hash(root / "tinytorch"))


def _raise(error: OSError) -> None:
    raise error


def check_package(package: Path) -> None:
    """Refuse a package that is, or holds, a link or a special file, or bytecode outside ``__pycache__``.

    A package never needs links (one could submit any folder of the grader's machine), and a
    ``.pyc`` beside the sources is run by Python when no ``.py`` of that name is next to it,
    although neither a reviewer nor the tree hash ever sees it.
    """
    for path in _walk(package):
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode):
            raise SubmissionError(
                f"{path} is a symbolic link (to {os.readlink(path)!r}); a tinytorch package never needs "
                "links: replace it with the file or folder it points to")
        if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
            raise SubmissionError(f"{path} is a device, FIFO or socket; remove it from the package")
        if path.suffix in (".pyc", ".pyo") and "__pycache__" not in path.relative_to(package).parts:
            raise SubmissionError(
                f"{path} is compiled bytecode outside __pycache__: Python imports it when no .py of that "
                "name is beside it, unseen by a reviewer and by the submission's hash; delete it and "
                "submit the .py sources only")


def _walk(package: Path) -> Iterator[Path]:
    """The package folder and everything under it, without following any link."""
    yield package
    if not stat.S_ISDIR(package.lstat().st_mode):
        return
    for directory, dirnames, filenames in os.walk(package, onerror=_raise):
        for entry in dirnames + filenames:
            yield Path(directory, entry)


@dataclass(frozen=True)
class Task:
    """One (submission, extra) pair to run and judge."""

    submission: Submission
    criterion: Criterion
    job: Job
    expected_seconds: float
    wall: WallBudget | None = None  # the wall budget scaled to this machine (reference_machine budgets)


def build_task(submission: Submission, criterion: Criterion, profile: str, seed: int,
               extras_dir: Path, speed: calibrate.Speed | None = None) -> Task:
    """The task of one pair; a budget stated for a reference machine is scaled by ``speed`` (by
    default this machine's: ``harness.calibrate.current()``)."""
    spec = criterion.profiles[profile]
    wall = None
    if spec.budget.reference_machine is not None:
        wall = calibrate.scale_wall(spec.budget.wall_seconds, spec.budget.reference_machine,
                                    speed or calibrate.current())
    budget = Budget(wall_seconds=wall.seconds if wall else spec.budget.wall_seconds,
                    memory_mib=spec.budget.memory_mib,
                    cpus=spec.budget.cpus, pids=spec.budget.pids, out_mib=spec.budget.out_mib)
    job = Job(job_id=f"{submission.name}/{criterion.id}", criterion_id=criterion.id,
              script=criterion.script, extras_dir=Path(extras_dir).resolve(),
              submission_dir=submission.root, args=tuple(spec.args), env=tuple(spec.env.items()),
              budget=budget, seed=seed, profile=profile)
    return Task(submission=submission, criterion=criterion, job=job, expected_seconds=spec.expected_seconds,
                wall=wall)


def _with_datasets(job: Job, names: list[str]) -> Job:
    """The job with each dataset's sandbox view attached (the datasets module is loaded lazily)."""
    if not names:
        return job
    from harness.datasets import sandbox_view

    views = tuple((name, Path(sandbox_view(name))) for name in names)
    return dataclasses.replace(job, datasets=views)


class Engine:
    """Runs tasks on one runner and judges each result on the host."""

    def __init__(self, runner: Runner, include_hidden: bool):
        self.runner = runner
        self.include_hidden = include_hidden

    def run_task(self, task: Task) -> ExtraResult:
        """Run and judge one task; a stochastic check's near miss is rerun with the next seeds
        (``harness.stochastic``), each rerun with its own evidence inputs."""
        crit, profile, root = task.criterion, task.job.profile, task.submission.root
        lacking = missing_modules(root, crit.requires)
        if lacking:
            reason = f"submission lacks {', '.join(lacking)} (required by this extra)"
            return judge(crit, profile, None, root, self.include_hidden, skipped=reason, wall=task.wall)
        try:
            job = _with_datasets(task.job, crit.datasets)
        except Exception as exc:  # a missing dataset is the host's problem, not the student's
            reason = f"infrastructure error: datasets {crit.datasets} unavailable: {exc}"
            return judge(crit, profile, None, root, self.include_hidden, skipped=reason, wall=task.wall)
        first = self._attempt(task, job)
        result = stochastic.settle(crit, profile, job.seed, first,
                                   lambda seed: self._attempt(task, dataclasses.replace(job, seed=seed)))
        return diagnose.attach(self.runner, job, crit.requires, crit.script, result,  # "why did I fail?"
                               task.submission.hash)

    def _attempt(self, task: Task, job: Job) -> ExtraResult:
        """One run of ``job`` (with its seed's evidence inputs, drawn here and removed after), judged."""
        crit, profile, root, wall = task.criterion, job.profile, task.submission.root, task.wall
        try:
            evidence = prepare_run(crit, profile, task.submission.hash, job.seed)
        except Exception as exc:  # the host's secrets or kit failed, not the student
            reason = f"infrastructure error: could not prepare the run's evidence inputs: {exc}"
            return judge(crit, profile, None, root, self.include_hidden, skipped=reason, wall=wall)
        if evidence is not None:
            job = dataclasses.replace(job, inputs=evidence.inputs_dir, phases=evidence.sealed_dir)
        try:
            run = self._run(job)
            try:
                return self._judge(crit, profile, run, root, evidence, wall)
            finally:
                if run.out_dir is not None:
                    remove_tree(run.out_dir)
        finally:
            if evidence is not None:
                evidence.close()

    def _judge(self, crit: Criterion, profile: str, run: RunResult, root: Path,
               evidence: EvidenceRun | None, wall: WallBudget | None = None) -> ExtraResult:
        host = None
        if evidence is not None and run.infra_error is None:
            try:
                host = evidence.score(run.out_dir, profile, run.phases)
            except ScoringUnavailable as exc:
                reason = f"infrastructure error: the host cannot score this run's evidence: {exc}"
                return judge(crit, profile, None, root, self.include_hidden, skipped=reason, wall=wall)
        return judge(crit, profile, run, root, self.include_hidden, host=host, wall=wall)

    def _run(self, job: Job) -> RunResult:
        try:
            return self.runner.run(job)
        except Exception as exc:  # the backend failed, not the script
            return RunResult(job_id=job.job_id, infra_error=f"{self.runner.name} backend failed: {exc}")

    def cancel(self) -> None:
        """Stop the runner's running jobs and any it would start (the harness was interrupted)."""
        cancel = getattr(self.runner, "cancel", None)
        if cancel is not None:
            cancel()

    def on_error(self, task: Task, exc: BaseException) -> ExtraResult:
        reason = f"infrastructure error: the harness failed on this job: {type(exc).__name__}: {exc}"
        return judge(task.criterion, task.job.profile, None, task.submission.root, self.include_hidden,
                     skipped=reason)


def summarize(submission: Submission, extras: list[ExtraResult]) -> SubmissionResult:
    return SubmissionResult(
        name=submission.name, path=str(submission.root), hash=submission.hash,
        score=round(sum(e.score for e in extras), 4), max_score=round(sum(e.max_score for e in extras), 4),
        status=worst(e.verdict for e in extras), extras=extras,
    )


def make_provenance(criteria: list[Criterion], runner: Runner, *, profile: str, seed: int,
                    include_hidden: bool) -> Provenance:
    """What the report's grades depend on: backend and image, criteria file hashes, seed, machine."""
    criteria_hashes = {c.id: criterion_file_hash(c) for c in criteria}
    described = runner.describe()
    return Provenance(
        backend=described.get("backend", runner.name), image_id=described.get("image_id"),
        lock_hash=described.get("lock_hash"),
        criteria_hash=combined_hash(criteria_hashes), criteria=criteria_hashes, seed=seed,
        profile=profile, hidden_checks_included=include_hidden, secrets=active_secrets().label,
        machine=machine_info(),
    )


def make_report(submissions: list[Submission], criteria: list[Criterion],
                results: Mapping[tuple[str, str], ExtraResult], provenance: Provenance) -> Report:
    """The canonical report: one entry per submission, its extras in criteria order.

    ``results`` maps ``(submission name, criterion id)`` to the judged result of that pair.
    """
    return Report(
        harness_version=__version__,
        created_at=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        provenance=provenance,
        submissions=[summarize(s, [results[(s.name, c.id)] for c in criteria]) for s in submissions],
    )
