"""How fast ``harness grade`` gets through a class, and what a fully cached rerun costs.

    python benchmarks/bench_grade.py                      # real extras, 3 copies of the reference
    python benchmarks/bench_grade.py --extras fake        # the six fake submissions of tests/grade

Real extras need the datasets in the cache (``harness data import NAME PATH``). Prints a table:
wall time of the cold batch, submissions graded per hour, CPU seconds per submission, and the
fully cached rerun both in-process and end to end through the CLI (Python start-up included).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from harness import backends  # noqa: E402
from harness.commands.common import load_criteria  # noqa: E402
from harness.commands.grade import GRADE_FORMATS  # noqa: E402
from harness.executors import ThreadPool  # noqa: E402
from harness.paths import CRITERIA_DIR, EXTRAS_DIR  # noqa: E402
from harness.pipeline import Pipeline, preflight_datasets  # noqa: E402
from harness.report.formats import write_formats  # noqa: E402
from harness.result_cache import ResultCache  # noqa: E402
from harness.submissions import resolve_submissions  # noqa: E402


def make_real_class(root: Path, count: int) -> tuple[Path, Path, Path]:
    """``count`` copies of the reference package, graded by the project's criteria and extras."""
    for i in range(count):
        shutil.copytree(REPO / "tinytorch", root / f"student{i:02d}" / "tinytorch",
                        ignore=shutil.ignore_patterns("__pycache__"))
    return root, CRITERIA_DIR, EXTRAS_DIR


def make_fake_class(root: Path) -> tuple[Path, Path, Path]:
    from tests.grade.fakeclass import make_class

    paths = make_class(root)
    return paths["submissions"], paths["criteria"], paths["extras"]


def child_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_batch(submissions_dir: Path, criteria_dir: Path, extras_dir: Path, out: Path, args) -> dict:
    """One in-process batch: resolve, plan, execute, write every export."""
    start, cpu = time.perf_counter(), child_cpu_seconds()
    criteria = list(load_criteria(criteria_dir).values())
    subs = resolve_submissions([submissions_dir], out / "cache" / "submissions")
    cache = ResultCache(out / "cache" / "results")
    pipeline = Pipeline(criteria, ThreadPool(backends.create(args.backend), args.jobs), extras_dir,
                        profile=args.profile, seed=1337, include_hidden=True, cache=cache)
    outcome = pipeline.grade(subs)
    write_formats(outcome.report, out, GRADE_FORMATS.split(","))
    return {"seconds": time.perf_counter() - start, "cpu": child_cpu_seconds() - cpu,
            "submissions": len(subs), "extras": len(criteria), "executed": len(outcome.executed),
            "cached": len(outcome.cached)}


def cli_rerun_seconds(submissions_dir: Path, criteria_dir: Path, extras_dir: Path, out: Path, args) -> float:
    command = [sys.executable, "-m", "harness.cli", "grade", str(submissions_dir),
               "--backend", args.backend, "--profile", args.profile, "--jobs", str(args.jobs),
               "--out", str(out), "--criteria-dir", str(criteria_dir), "--extras-dir", str(extras_dir), "-q"]
    if args.backend == "local":
        command.append("--i-know-local-is-not-isolated")  # the benchmark grades its own fake class
    start = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    subprocess.run(command, env=env, stdout=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--extras", choices=["real", "fake"], default="real")
    parser.add_argument("--submissions", type=int, default=3, help="copies of the reference (real extras)")
    parser.add_argument("--backend", default="local")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--profile", default="quick")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-grade-") as tmp:
        root = Path(tmp)
        if args.extras == "real":
            dirs = make_real_class(root / "class", args.submissions)
            preflight_datasets(list(load_criteria(dirs[1]).values()))
        else:
            dirs = make_fake_class(root / "class")
        out = root / "grades"
        cold = timed_batch(*dirs, out, args)
        warm = timed_batch(*dirs, out, args)
        cli = cli_rerun_seconds(*dirs, out, args)
    assert warm["executed"] == 0, "the rerun should have been fully cached"
    per_hour = cold["submissions"] / cold["seconds"] * 3600
    rows = [
        ("extras / profile / backend / jobs", f"{args.extras} ({cold['extras']}) / {args.profile} / "
                                               f"{args.backend} / {args.jobs} on {os.cpu_count()} cores"),
        ("submissions x extras", f"{cold['submissions']} x {cold['extras']} = {cold['executed']} jobs"),
        ("cold batch wall time", f"{cold['seconds']:.1f} s"),
        ("submissions graded per hour", f"{per_hour:.0f}"),
        ("CPU seconds per submission", f"{cold['cpu'] / cold['submissions']:.1f} s"),
        ("fully cached rerun, in-process", f"{warm['seconds']:.2f} s ({warm['cached']} results reused)"),
        ("fully cached rerun, CLI end to end", f"{cli:.2f} s"),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"{'measure':<{width}}  value\n{'-' * width}  {'-' * 40}")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
