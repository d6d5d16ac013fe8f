"""Batch grading: every extra for every submission, through the same engine as ``harness check``.

Finished (submission, extra) results are cached the moment they are judged (``harness.cache``),
so a rerun only runs what is missing or out of date (an edited module reruns only the extras that
can import it); ``force`` regrades everything. Hidden checks always run here: the gradebook is the
instructor's. A submission that could not be resolved (its ``problem``) runs nothing: every extra
is ``not_gradable`` with that reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness import __version__
from harness.cache import CacheKey, ResultCache, criterion_hash, is_cacheable
from harness.calibrate import budget_still_holds
from harness.criteria import Criterion
from harness.engine import Engine, Task, build_task, make_provenance, make_report
from harness.executors import Executor, ThreadPool
from harness.import_closure import PackageImports
from harness.judging.verdicts import judge
from harness.report.model import ExtraResult, Report, SubmissionResult
from harness.runners.base import Runner
from harness.submissions import ResolvedSubmission


@dataclass
class GradeRun:
    """The report, and which (submission, extra) pairs ran now and which came from the cache."""

    report: Report
    executed: list[tuple[str, str]]
    cached: list[tuple[str, str]]


def backend_identity(runner: Runner) -> str:
    """The backend part of a cache key: its name and, for containers, the image id."""
    described = runner.describe()
    return f"{described.get('backend', runner.name)}:{described.get('image_id') or ''}"


@dataclass
class Plan:
    """What a batch will do: cached results to reuse and tasks to run, with their cache keys."""

    submissions: list[ResolvedSubmission]
    criteria: list[Criterion]
    profile: str
    seed: int
    keys: dict[tuple[str, str], CacheKey]
    cached: dict[tuple[str, str], ExtraResult]
    tasks: list[Task]


def plan(submissions: list[ResolvedSubmission], criteria: list[Criterion], *, runner: Runner,
         extras_dir: Path, cache: ResultCache, profile: str, seed: int, force: bool = False) -> Plan:
    """Look every (submission, criterion) pair up in the cache; the misses become tasks.

    A pair's key holds the hash of only the submission's files its extra can import (the closure of
    the criterion's ``requires``, ``harness.import_closure``), computed once per (submission,
    requires): editing a module reruns just the extras that can reach it."""
    backend = backend_identity(runner)
    crit_hashes = {c.id: criterion_hash(c, extras_dir, __version__) for c in criteria}
    batch = Plan(submissions, criteria, profile, seed, keys={}, cached={}, tasks=[])
    for sub in (s for s in submissions if s.problem is None):
        package = PackageImports(sub.submission.root / "tinytorch")
        code_hashes: dict[tuple[str, ...], str] = {}
        for crit in criteria:
            pair = (sub.name, crit.id)
            requires = tuple(crit.requires)
            if requires not in code_hashes:
                code_hashes[requires] = package.hash(requires)
            batch.keys[pair] = CacheKey(code_hashes[requires], crit_hashes[crit.id], backend, profile, seed)
            task = build_task(sub.submission, crit, profile, seed, extras_dir)
            hit = None if force else cache.load(sub.name, crit.id, batch.keys[pair])
            if hit is not None and budget_still_holds(hit.run, task.wall):  # budgets move with calibration
                batch.cached[pair] = hit
            else:
                batch.tasks.append(task)
    return batch


def execute(batch: Plan, *, runner: Runner, cache: ResultCache, jobs: int,
            on_result: Callable[[str, ExtraResult], None] | None = None,
            executor: Executor | None = None) -> GradeRun:
    """Run the plan's tasks in parallel, caching each result as soon as it is judged.

    ``executor`` (``harness.executors``) decides where the runs happen (by default ``jobs`` threads
    on ``runner``); results are judged and cached here either way, once per task."""
    results = dict(batch.cached)
    executed: list[tuple[str, str]] = []
    executor = executor or ThreadPool(runner, jobs)
    runner = executor.runner
    engine = Engine(runner, include_hidden=True)

    def run_and_store(task: Task) -> ExtraResult:
        """Judge, then cache on the worker thread: a result is kept even if the caller is interrupted."""
        result = engine.run_task(task)
        if is_cacheable(result):
            pair = (task.submission.name, task.criterion.id)
            cache.store(*pair, batch.keys[pair], result)
        return result

    def finished(task: Task, result: ExtraResult) -> None:
        pair = (task.submission.name, task.criterion.id)
        results[pair] = result
        executed.append(pair)
        if on_result is not None:
            on_result(task.job.job_id, result)

    executor.map(batch.tasks, run_and_store, expected_seconds=lambda t: t.expected_seconds,
                 on_error=engine.on_error, on_result=finished, cancel=engine.cancel)
    provenance = make_provenance(batch.criteria, runner, profile=batch.profile, seed=batch.seed,
                                 include_hidden=True)
    gradable = [sub for sub in batch.submissions if sub.problem is None]
    report = make_report([sub.submission for sub in gradable], batch.criteria, results, provenance)
    graded = iter(report.submissions)
    report.submissions = [not_gradable(sub, batch.criteria, batch.profile) if sub.problem else next(graded)
                          for sub in batch.submissions]
    return GradeRun(report, executed, list(batch.cached))


def not_gradable(sub: ResolvedSubmission, criteria: list[Criterion], profile: str) -> SubmissionResult:
    """The row of a submission that could not be resolved: every extra not_gradable, with the reason."""
    extras = [judge(crit, profile, None, sub.source, include_hidden=True, skipped=sub.problem)
              for crit in criteria]
    return SubmissionResult(name=sub.name, path=str(sub.source), hash="", score=0.0,
                            max_score=round(sum(e.max_score for e in extras), 4), status="not_gradable",
                            extras=extras)

