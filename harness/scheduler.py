"""Run many jobs in parallel: longest expected first, results streamed as each one finishes.

A thread pool is enough here: every job is a sandboxed subprocess or container, so the
threads only wait. Each job's failure is caught and turned into a result of its own.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def machine_memory_mib() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1024 * 1024)
    except (ValueError, OSError):
        return None


def default_jobs(cpus_per_job: Sequence[float], memory_mib_per_job: Sequence[int] = (),
                 cores: int | None = None, memory_mib: int | None = None) -> int:
    """How many jobs fit side by side: cores / the largest CPU budget, also bounded by memory."""
    cores = cores or os.cpu_count() or 1
    widest = max((math.ceil(c) for c in cpus_per_job), default=1)
    jobs = max(1, cores // max(1, widest))
    memory_mib = memory_mib if memory_mib is not None else machine_memory_mib()
    if memory_mib and memory_mib_per_job:
        jobs = min(jobs, max(1, memory_mib // max(memory_mib_per_job)))
    return jobs


def run_parallel(items: Sequence[T], work: Callable[[T], R], *, jobs: int,
                 expected_seconds: Callable[[T], float],
                 on_error: Callable[[T, BaseException], R],
                 on_result: Callable[[T, R], None] | None = None,
                 cancel: Callable[[], None] | None = None) -> list[R]:
    """``work(item)`` for every item on ``jobs`` threads; results in input order.

    Items start longest-expected first. ``on_result`` is called on the calling thread as each
    item finishes; an exception in ``work`` becomes ``on_error(item, exc)``, never a crash.

    An exception on the calling thread (Ctrl-C's KeyboardInterrupt, or one raised by
    ``on_result``) stops the batch: items not started yet never start, ``cancel()`` is called to
    stop the running ones, and once their threads have returned the exception propagates.
    """
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    order = sorted(range(len(items)), key=lambda i: -expected_seconds(items[i]))
    results: list[R | None] = [None] * len(items)
    pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="harness-job")
    try:
        pending = {pool.submit(work, items[i]): i for i in order}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                index = pending.pop(future)
                try:
                    result = future.result()
                except Exception as exc:  # one job's failure must never affect the others
                    result = on_error(items[index], exc)
                results[index] = result
                if on_result is not None:
                    on_result(items[index], result)
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)  # first, so no freed thread takes another item
        try:
            if cancel is not None:
                cancel()
        finally:
            pool.shutdown(wait=True)
        raise
    pool.shutdown(wait=True)
    return results
