"""One grading pipeline: plan -> look up the cache -> run -> judge -> record -> report.

``harness check`` (a batch of one submission, no cache), ``harness grade`` (a class, each result
cached the moment it is judged) and the pytest plugin (one extra per test item) all grade through
``Pipeline``. ``Pipeline.open`` creates the executor (the backend, or a Dask cluster), makes every
dataset the extras need ready and sizes the jobs; each submission is resolved and hashed once
before it gets here. The executor only decides where a sandboxed run happens: inputs are drawn,
results judged (``harness.engine.Engine``) and recorded in this process.

A cached result is reused only when its key still holds (``harness.result_cache``): the hash of the
submission files its extra can import (``harness.import_closure``), the criterion, the backend and
image, the profile and the seed. A submission that could not be resolved (its ``problem``) runs
nothing: every extra is ``not_gradable`` with that reason.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness import __version__, backends
from harness.calibrate import budget_still_holds
from harness.criteria import Criterion
from harness.engine import DEFAULT_SEED, Engine, Submission, Task, build_task, make_provenance, make_report
from harness.executors import Executor, ThreadPool
from harness.import_closure import PackageImports
from harness.judging.verdicts import judge
from harness.paths import EXIT_INFRA
from harness.provenance import tree_hash
from harness.report.model import ExtraResult, Report, SubmissionResult
from harness.result_cache import CacheKey, ResultCache, criterion_hash, is_cacheable
from harness.runners.base import Runner
from harness.scheduler import default_jobs
from harness.submissions import ResolvedSubmission


class PipelineUnavailable(Exception):
    """The pipeline cannot run here (backend, datasets or cluster); the message says what to do."""

    def __init__(self, message: str, exit_code: int = EXIT_INFRA):
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class GradeRun:
    """The report, and which (submission, extra) pairs ran now and which came from the cache."""

    report: Report
    executed: list[tuple[str, str]]
    cached: list[tuple[str, str]]


@dataclass
class Plan:
    """What a batch will do: cached results to reuse and tasks to run, with their cache keys."""

    submissions: list[ResolvedSubmission]
    keys: dict[tuple[str, str], CacheKey]
    cached: dict[tuple[str, str], ExtraResult]
    tasks: list[Task]


def backend_identity(runner: Runner) -> str:
    """The backend part of a cache key: its name and, for containers, the image id."""
    described = runner.describe()
    return f"{described.get('backend', runner.name)}:{described.get('image_id') or ''}"


def preflight_datasets(criteria: list[Criterion]) -> None:
    """Every dataset ``criteria`` need, ready on this machine (a sandbox view, and the held-out
    split the host judges with); else PipelineUnavailable with the fix."""
    needed = sorted({d for c in criteria for d in c.datasets})
    if not needed:
        return
    from harness.datasets import DatasetError, sandbox_view

    for name in needed:
        try:
            sandbox_view(name)
        except DatasetError as exc:
            raise PipelineUnavailable(str(exc), exc.exit_code) from None


def open_executor(backend: str, criteria: list[Criterion], profile: str, jobs: int | None = None,
                  dask_scheduler: str | None = None) -> Executor:
    """Where the jobs run: ``jobs`` threads on this machine's ``backend`` (default: sized from the
    cores, the memory and the extras' budgets), or the Dask cluster at ``dask_scheduler`` (its
    workers checked first). This machine still judges, so its datasets are made ready either way."""
    preflight_datasets(criteria)
    if dask_scheduler is None:
        try:
            runner = backends.create(backend)
        except backends.BackendUnavailable as exc:
            raise PipelineUnavailable(str(exc)) from None
        budgets = [c.profiles[profile].budget for c in criteria]
        return ThreadPool(runner, jobs or default_jobs([b.cpus for b in budgets],
                                                       [b.memory_mib for b in budgets]))
    try:
        from harness.executors.dask_client import DaskExecutor, ExecutorUnavailable
    except ImportError as exc:
        raise PipelineUnavailable(f"--dask-scheduler needs dask[distributed] ({exc}): "
                                  "pip install 'tinytorch-harness[dask]'") from None
    try:
        return DaskExecutor.connect(dask_scheduler, backend, criteria, profile, jobs)
    except ExecutorUnavailable as exc:
        raise PipelineUnavailable(str(exc)) from None


def resolved(submission: Submission) -> ResolvedSubmission:
    """A submission given by path (``harness check``, the pytest plugin) as the pipeline takes it,
    its package hashed here unless resolving it already did."""
    if not submission.hash:
        submission = dataclasses.replace(submission, hash=tree_hash(submission.root / "tinytorch"))
    return ResolvedSubmission(submission, submission.root, submission.hash)


@dataclass
class Pipeline:
    """Grade ``criteria`` against submissions on ``executor``; with a ``cache``, reuse and record."""

    criteria: list[Criterion]
    executor: Executor
    extras_dir: Path
    profile: str = "full"
    seed: int = DEFAULT_SEED
    include_hidden: bool = False
    cache: ResultCache | None = None
    force: bool = False  # with a cache: rerun every pair, still recording the new results

    @classmethod
    def open(cls, criteria: list[Criterion], *, backend: str, profile: str, jobs: int | None = None,
             dask_scheduler: str | None = None, **fields) -> Pipeline:
        """A pipeline on a fresh executor (``open_executor``); use it as a context manager."""
        executor = open_executor(backend, criteria, profile, jobs, dask_scheduler)
        return cls(criteria, executor, profile=profile, **fields)

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, *exc) -> None:
        self.executor.close()

    def plan(self, submissions: list[ResolvedSubmission]) -> Plan:
        """Every gradable (submission, criterion) pair: a cache hit, or a task to run."""
        batch = Plan(submissions, keys={}, cached={}, tasks=[])
        backend = backend_identity(self.executor.runner) if self.cache is not None else ""
        crit_hashes = {c.id: criterion_hash(c, self.extras_dir, __version__) for c in self.criteria} \
            if self.cache is not None else {}
        for sub in (s for s in submissions if s.problem is None):
            package = PackageImports(sub.submission.root / "tinytorch")
            code_hashes: dict[tuple[str, ...], str] = {}
            for crit in self.criteria:
                task = build_task(sub.submission, crit, self.profile, self.seed, self.extras_dir)
                if self.cache is None:
                    batch.tasks.append(task)
                    continue
                pair = (sub.name, crit.id)
                requires = tuple(crit.requires)
                if requires not in code_hashes:
                    code_hashes[requires] = package.hash(requires)
                batch.keys[pair] = CacheKey(code_hashes[requires], crit_hashes[crit.id], backend,
                                            self.profile, self.seed)
                hit = None if self.force else self.cache.load(sub.name, crit.id, batch.keys[pair])
                if hit is not None and budget_still_holds(hit.run, task.wall):  # moves with calibration
                    batch.cached[pair] = hit
                else:
                    batch.tasks.append(task)
        return batch

    def execute(self, batch: Plan,
                on_result: Callable[[Task, ExtraResult], None] | None = None) -> GradeRun:
        """Run the plan's tasks on the executor, judge each here, record it in the cache at once."""
        names = [s.name for s in batch.submissions]
        if len(set(names)) != len(names):
            raise ValueError(f"submission names must be unique, got {sorted(names)}")
        results = dict(batch.cached)
        executed: list[tuple[str, str]] = []
        engine = Engine(self.executor.runner, self.include_hidden)

        def run_and_record(task: Task) -> ExtraResult:
            """Judge, then record on the worker thread: a result is kept even if the caller stops."""
            result = engine.run_task(task)
            if self.cache is not None and is_cacheable(result):
                pair = (task.submission.name, task.criterion.id)
                self.cache.store(*pair, batch.keys[pair], result)
            return result

        def finished(task: Task, result: ExtraResult) -> None:
            pair = (task.submission.name, task.criterion.id)
            results[pair] = result
            executed.append(pair)
            if on_result is not None:
                on_result(task, result)

        self.executor.map(batch.tasks, run_and_record, expected_seconds=lambda t: t.expected_seconds,
                          on_error=engine.on_error, on_result=finished, cancel=engine.cancel)
        provenance = make_provenance(self.criteria, self.executor.runner, profile=self.profile,
                                     seed=self.seed, include_hidden=self.include_hidden)
        gradable = [sub for sub in batch.submissions if sub.problem is None]
        report = make_report([sub.submission for sub in gradable], self.criteria, results, provenance)
        graded = iter(report.submissions)
        report.submissions = [self._not_gradable(sub) if sub.problem else next(graded)
                              for sub in batch.submissions]
        return GradeRun(report, executed, list(batch.cached))

    def grade(self, submissions: list[ResolvedSubmission],
              on_result: Callable[[Task, ExtraResult], None] | None = None) -> GradeRun:
        """``plan`` then ``execute``."""
        return self.execute(self.plan(submissions), on_result)

    def _not_gradable(self, sub: ResolvedSubmission) -> SubmissionResult:
        """The row of a submission that could not be resolved: every extra not_gradable, with why."""
        extras = [judge(crit, self.profile, None, sub.source, include_hidden=self.include_hidden,
                        skipped=sub.problem) for crit in self.criteria]
        return SubmissionResult(name=sub.name, path=str(sub.source), hash="", score=0.0,
                                max_score=round(sum(e.max_score for e in extras), 4), status="not_gradable",
                                extras=extras)


def run_checks(criteria: list[Criterion], submissions: list[Submission], *, runner: Runner,
               extras_dir: Path, profile: str = "full", seed: int = DEFAULT_SEED, jobs: int = 1,
               include_hidden: bool = False, on_result: Callable[[Task, ExtraResult], None] | None = None,
               executor: Executor | None = None) -> Report:
    """Every criterion against every submission given by path, nothing cached: the report.
    (``jobs`` threads on ``runner`` unless an ``executor`` is given.)"""
    pipeline = Pipeline(criteria, executor or ThreadPool(runner, jobs), Path(extras_dir), profile, seed,
                        include_hidden)
    return pipeline.grade([resolved(s) for s in submissions], on_result).report
