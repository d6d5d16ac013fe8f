"""Per-job overhead of the Dask executor over the thread pool, on trivial jobs (local backend).

    python benchmarks/bench_dask.py [--repeats 20] [--batch 16]

Starts a real ``dask scheduler`` and one ``dask worker`` (``--nthreads 2 --resources
CPU=2,MEMORY=4e9``, local backend allowed) on 127.0.0.1, then measures, interleaved so background
load hits both alike:

- one trivial job at a time through the whole engine (inputs, run, judge): thread pool vs Dask,
  median over ``--repeats``; the difference is the per-job cost of shipping the job, the package
  and extras (cached on the worker after the first job), and ``/out`` back;
- a batch of ``--batch`` trivial extras, two side by side: wall time with each executor;
- connecting to the cluster and its preflight (workers asked for version, backend, datasets).

Target (issue 14): <= 100 ms per job over the thread pool.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.bench_harness import TRIVIAL, make_project  # noqa: E402
from harness.executors import ThreadPool  # noqa: E402
from harness.executors.dask_client import DaskExecutor  # noqa: E402
from harness.pipeline import run_checks  # noqa: E402
from harness.runners.local import LocalRunner  # noqa: E402


def start_cluster(root: Path, workers: int = 1, threads: int = 2,
                  resources: str = "CPU=2,MEMORY=4e9") -> tuple[str, list[subprocess.Popen]]:
    """A scheduler and ``workers`` local-backend workers on 127.0.0.1; (address, processes)."""
    root.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(REPO), "HARNESS_WORKER_BACKENDS": "local"}
    file = root / "scheduler.json"
    log = open(root / "cluster.log", "wb")  # noqa: SIM115
    procs = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                               "--port", "0", "--no-dashboard", "--scheduler-file", str(file)],
                              env=env, stdout=log, stderr=subprocess.STDOUT)]
    deadline = time.monotonic() + 30
    while not (file.exists() and file.stat().st_size):
        if time.monotonic() > deadline:
            raise RuntimeError("the scheduler did not start")
        time.sleep(0.05)
    address = json.loads(file.read_text())["address"]
    for i in range(workers):
        procs.append(subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address,
                                       "--no-nanny", "--nthreads", str(threads), "--resources", resources,
                                       "--no-dashboard"],
                                      env={**env, "HARNESS_WORKER_DIR": str(root / f"worker-{i}")},
                                      stdout=log, stderr=subprocess.STDOUT))
    from distributed import Client

    with Client(address, timeout=30) as client:
        client.wait_for_workers(workers, timeout=60)
    return address, procs


def timed(criteria, extras, submission, executor) -> float:
    start = time.perf_counter()
    report = run_checks(criteria, [submission], runner=executor.runner, extras_dir=extras, jobs=1,
                        executor=executor)
    elapsed = time.perf_counter() - start
    assert all(e.verdict == "passed" for e in report.submissions[0].extras), report.submissions[0].extras
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--batch", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        one = make_project(root / "one", {"trivial": TRIVIAL})
        many = make_project(root / "many", {f"trivial{i:02d}": TRIVIAL for i in range(args.batch)})
        address, procs = start_cluster(root)
        try:
            start = time.perf_counter()
            dask_one = DaskExecutor.connect(address, "local", one[0], "full", jobs=1)
            connect = time.perf_counter() - start
            dask_two = DaskExecutor.connect(address, "local", many[0], "full", jobs=2)
            threads_one, threads_two = ThreadPool(LocalRunner(), 1), ThreadPool(LocalRunner(), 2)
            timed(*one, dask_one)  # first job: ships the package and extras, builds the worker's runner
            single = {"threads": [], "dask": []}
            for _ in range(args.repeats):
                single["threads"].append(timed(*one, threads_one))
                single["dask"].append(timed(*one, dask_one))
            batch = {"threads": [], "dask": []}
            for _ in range(3):
                batch["threads"].append(timed(*many, threads_two))
                batch["dask"].append(timed(*many, dask_two))
            dask_one.close()
            dask_two.close()
        finally:
            for proc in procs:
                proc.kill()
                proc.wait()
    t, d = statistics.median(single["threads"]), statistics.median(single["dask"])
    bt, bd = statistics.median(batch["threads"]), statistics.median(batch["dask"])
    print(f"{os.cpu_count()} CPUs; local backend; 1 worker (--nthreads 2, CPU=2); medians")
    print()
    print("| measure | thread pool | Dask | Dask - threads |")
    print("|---|---|---|---|")
    print(f"| one trivial job through the engine ({args.repeats} repeats) | {t * 1000:.0f} ms | "
          f"{d * 1000:.0f} ms | **{(d - t) * 1000:+.0f} ms** |")
    print(f"| batch of {args.batch} trivial jobs, 2 side by side (3 repeats) | {bt:.2f} s | {bd:.2f} s | "
          f"{(bd - bt) / args.batch * 1000:+.0f} ms per job |")
    print(f"| connect + preflight (once per batch) | | {connect * 1000:.0f} ms | |")


if __name__ == "__main__":
    main()
