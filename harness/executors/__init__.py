"""Executors: where a batch's jobs run. Preparing a run's secret inputs and judging its result
always happen in this process (``harness.engine.Engine``); an executor only decides where the
sandboxed run itself happens.

- ``ThreadPool`` (the default, embedded, nothing to start): ``jobs`` threads, each running its job
  on this machine's backend (``docker`` or ``local``).
- ``DaskExecutor`` (``--dask-scheduler tcp://HOST:PORT``, ``harness.executors.dask_client``): the
  job, its public inputs and the submission's package go to a Dask worker, which runs it on its own
  backend and sends back the run's result and ``/out``; see docs/distributed.md.

Both expose the same two things: ``runner`` (what ``Engine`` calls to run one ``Job``) and ``map``
(run every task through ``work``, longest expected first, results streamed to ``on_result``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

from harness.runners.base import Runner
from harness.scheduler import run_parallel

T = TypeVar("T")
R = TypeVar("R")


class ClusterLost(BaseException):  # noqa: N818 - like KeyboardInterrupt, it stops the batch
    """The executor lost its cluster (the Dask scheduler died or became unreachable).

    A ``BaseException`` on purpose: it must not be caught by the per-job ``except Exception`` of
    the engine and turned into one more infrastructure result; like Ctrl-C it stops the batch
    (``run_parallel`` cancels what is queued), and the command exits 3. Finished results are
    already cached, so a rerun resumes.
    """


class Executor(Protocol):
    name: str
    runner: Runner  # what ``Engine`` calls to run one Job (here, or shipped to a cluster)

    def map(self, items: Sequence[T], work: Callable[[T], R], *, expected_seconds: Callable[[T], float],
            on_error: Callable[[T, BaseException], R], on_result: Callable[[T, R], None] | None = None,
            cancel: Callable[[], None] | None = None) -> list[R]:
        """``work(item)`` for every item, results in input order (``harness.scheduler.run_parallel``)."""

    def describe(self) -> dict:
        """Provenance of the executor (name, and for a cluster its scheduler and workers)."""

    def close(self) -> None:
        """Release what the executor holds (cluster connection, worker-side runners)."""


class ThreadPool:
    """The default executor: ``jobs`` threads on this machine, each running a job on ``runner``."""

    name = "threads"

    def __init__(self, runner: Runner, jobs: int):
        if jobs < 1:
            raise ValueError(f"jobs must be at least 1, got {jobs}")
        self.runner = runner
        self.jobs = jobs

    def map(self, items, work, *, expected_seconds, on_error, on_result=None, cancel=None):
        return run_parallel(items, work, jobs=self.jobs, expected_seconds=expected_seconds,
                            on_error=on_error, on_result=on_result, cancel=cancel)

    def describe(self) -> dict:
        return {"executor": self.name, "jobs": self.jobs}

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
