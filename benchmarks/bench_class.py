"""A class graded through the pipeline: throughput on the thread pool and on 1 and 2 Dask workers,
and the regrade after a one-module change.

    python benchmarks/bench_class.py [--students 40] [--extras perceptron,xor_crisis,...]

``--students`` copies of the reference package, quick profile, local backend, on this machine.
Each configuration grades the whole class from an empty cache (the same 2 cores in every
configuration: the thread pool with 2 jobs, 1 worker with 2 threads, 2 workers with 1 thread each),
so the numbers show what distribution costs, not what more machines would give. Then, on the
thread pool's cache: one student edits ``perf/memoization.py`` (the module the KV-cache extras
import), and the class is regraded; and every student edits it, and the class is regraded. Only
the extras whose import closure holds the edited file rerun (``harness.import_closure``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.bench_dask import start_cluster  # noqa: E402
from harness.commands.common import load_criteria  # noqa: E402
from harness.executors import ThreadPool  # noqa: E402
from harness.executors.dask_client import DaskExecutor  # noqa: E402
from harness.paths import CRITERIA_DIR, EXTRAS_DIR  # noqa: E402
from harness.pipeline import Pipeline, preflight_datasets  # noqa: E402
from harness.result_cache import ResultCache  # noqa: E402
from harness.runners.local import LocalRunner  # noqa: E402
from harness.submissions import resolve_submissions  # noqa: E402

EDITED = Path("perf") / "memoization.py"


def make_class(root: Path, students: int) -> Path:
    for i in range(students):
        shutil.copytree(REPO / "tinytorch", root / f"student{i:02d}" / "tinytorch",
                        ignore=shutil.ignore_patterns("__pycache__"))
    return root


def grade(pipeline: Pipeline, class_dir: Path, cache_dir: Path):
    """(seconds, GradeRun) of one batch, resolving the submissions included."""
    start = time.perf_counter()
    submissions = resolve_submissions([class_dir], cache_dir / "submissions")
    outcome = pipeline.grade(submissions)
    return time.perf_counter() - start, outcome


def edit(class_dir: Path, students: list[str]) -> None:
    for name in students:
        path = class_dir / name / "tinytorch" / EDITED
        path.write_text(path.read_text() + "\n# an edit that changes nothing the extras compute\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--extras", default="perceptron,xor_crisis,quickdemo,baseline_profile")
    args = parser.parse_args()
    criteria = [load_criteria(CRITERIA_DIR)[name] for name in args.extras.split(",")]
    preflight_datasets(criteria)
    jobs = args.students * len(criteria)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        class_dir = make_class(root / "class", args.students)

        def pipeline(executor, cache_dir: Path) -> Pipeline:
            return Pipeline(criteria, executor, EXTRAS_DIR, profile="quick", include_hidden=True,
                            cache=ResultCache(cache_dir / "results"))

        configurations = [("thread pool, 2 jobs", None, None), ("Dask, 1 worker x 2 threads", 1, 2),
                          ("Dask, 2 workers x 1 thread", 2, 1)]
        for label, workers, threads in configurations:
            cache_dir = root / f"cache-{len(rows)}"
            if workers is None:
                threads_pipeline = pipeline(ThreadPool(LocalRunner(), 2), cache_dir)
                seconds, outcome = grade(threads_pipeline, class_dir, cache_dir)
                thread_cache = cache_dir
            else:
                address, procs = start_cluster(root / f"cluster-{workers}", workers, threads,
                                               f"CPU={threads},MEMORY=4e9")
                try:
                    executor = DaskExecutor.connect(address, "local", criteria, "quick", jobs=2)
                    with pipeline(executor, cache_dir) as graded:
                        seconds, outcome = grade(graded, class_dir, cache_dir)
                finally:
                    for proc in procs:
                        proc.kill()
                        proc.wait()
            assert len(outcome.executed) == jobs, (label, len(outcome.executed))
            failed = [(s.name, e.id) for s in outcome.report.submissions for e in s.extras
                      if e.verdict != "passed"]
            assert not failed, [(s.name, e.id, e.reason) for s in outcome.report.submissions for e in s.extras
                                 if e.verdict != "passed"][:3]
            rows.append((label, seconds, len(outcome.executed)))

        regrades = []
        cached_pipeline = pipeline(ThreadPool(LocalRunner(), 2), thread_cache)
        seconds, outcome = grade(cached_pipeline, class_dir, thread_cache)
        regrades.append(("nothing changed", seconds, outcome))
        edit(class_dir, ["student00"])
        seconds, outcome = grade(cached_pipeline, class_dir, thread_cache)
        regrades.append((f"one student edits {EDITED}", seconds, outcome))
        edit(class_dir, [f"student{i:02d}" for i in range(args.students)])
        seconds, outcome = grade(cached_pipeline, class_dir, thread_cache)
        regrades.append((f"every student edits {EDITED}", seconds, outcome))

    print(f"{os.cpu_count()} CPUs; {args.students} copies of the reference; quick profile; extras "
          f"{args.extras}; local backend")
    print()
    print("| executor | class of jobs | wall | jobs per minute |")
    print("|---|---|---|---|")
    for label, seconds, executed in rows:
        print(f"| {label} | {executed} | {seconds:.1f} s | {executed / seconds * 60:.0f} |")
    print()
    print("| regrade (thread pool, cache of the first batch) | reran | reused | wall |")
    print("|---|---|---|---|")
    for label, seconds, outcome in regrades:
        ran = sorted({extra for _, extra in outcome.executed})
        print(f"| {label} | {len(outcome.executed)} ({', '.join(ran) or 'none'}) | {len(outcome.cached)} | "
              f"{seconds:.1f} s |")


if __name__ == "__main__":
    main()
