"""Harness overhead per job (local backend) and the makespan of 8 CPU-bound jobs with --jobs 2.

    python benchmarks/bench_harness.py [--repeats 10] [--job-seconds 0.5]

Overhead = time of one job through the whole engine (runner, capture, metrics parsing,
verdict, clean-up) minus the time of the same script run directly with subprocess.
Ideal makespan = 8 x (one job's time alone) / 2. Targets: <= 50 ms and <= 1.1x.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.criteria import load_all  # noqa: E402
from harness.engine import Submission  # noqa: E402
from harness.pipeline import run_checks  # noqa: E402
from harness.runners.local import LocalRunner  # noqa: E402

TRIVIAL = textwrap.dedent("""\
    import json, os
    with open(os.path.join(os.environ.get("HARNESS_OUT", "."), "metrics.jsonl"), "a") as f:
        f.write(json.dumps({"kind": "scalar", "name": "score", "value": 1.0}) + "\\n")
""")
BUSY = TRIVIAL.replace("import json, os\n", "import json, os, time\nend = time.process_time() + {seconds}\n"
                       "while time.process_time() < end:\n    pass\n")


def make_project(root: Path, scripts: dict[str, str]) -> tuple[list, Path, Submission]:
    extras, criteria, sub = root / "extras", root / "criteria", root / "sub"
    for folder in (extras, criteria, sub / "tinytorch"):
        folder.mkdir(parents=True, exist_ok=True)
    (sub / "tinytorch" / "__init__.py").write_text("")
    for name, source in scripts.items():
        (extras / f"{name}.py").write_text(source)
        profile = {"expected_seconds": 1, "budget": {"wall_seconds": 120, "memory_mib": 1024}}
        spec = {"id": name, "title": name, "script": f"{name}.py", "milestone": "bench",
                "profiles": {"full": profile, "quick": profile},
                "checks": [{"name": "score", "metric": "score", "source": "self-reported",
                            "trust": "self-reported", "rule": {"min": 0.5}}]}
        (criteria / f"{name}.yaml").write_text(yaml.safe_dump(spec))
    return list(load_all(criteria).values()), extras, Submission("bench", sub)


def grade(criteria, extras, submission, jobs: int) -> float:
    start = time.perf_counter()
    report = run_checks(criteria, [submission], runner=LocalRunner(), extras_dir=extras, jobs=jobs)
    elapsed = time.perf_counter() - start
    assert all(e.verdict == "passed" for e in report.submissions[0].extras), report
    return elapsed


def direct(script: Path, out: Path) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-s", str(script)], check=True, cwd=out,
                   env={**os.environ, "HARNESS_OUT": str(out)})
    return time.perf_counter() - start


def overhead(root: Path, repeats: int) -> tuple[float, float, float]:
    criteria, extras, submission = make_project(root / "overhead", {"trivial": TRIVIAL})
    out = root / "direct-out"
    out.mkdir()
    direct_times, harness_times, harness_cpu = [], [], []
    for _ in range(repeats):  # interleaved, so background load hits both alike
        direct_times.append(direct(extras / "trivial.py", out))
        cpu = time.process_time()  # this process only (all its threads), not the child
        harness_times.append(grade(criteria, extras, submission, jobs=1))
        harness_cpu.append(time.process_time() - cpu)
    return statistics.median(direct_times), statistics.median(harness_times), statistics.median(harness_cpu)


def makespan(root: Path, job_seconds: float) -> tuple[float, float]:
    scripts = {f"busy{i}": BUSY.replace("{seconds}", str(job_seconds)) for i in range(8)}
    criteria, extras, submission = make_project(root / "makespan", scripts)
    single = statistics.median(grade(criteria[:1], extras, submission, jobs=1) for _ in range(3))
    return 8 * single / 2, grade(criteria, extras, submission, jobs=2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--job-seconds", type=float, default=0.5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-harness-") as tmp:
        root = Path(tmp)
        direct_s, harness_s, harness_cpu = overhead(root, args.repeats)
        ideal, measured = makespan(root, args.job_seconds)
    over_ms = (harness_s - direct_s) * 1000
    rows = [
        ("script run directly (median)", f"{direct_s * 1000:.1f} ms", ""),
        ("same job through the harness (median)", f"{harness_s * 1000:.1f} ms", ""),
        ("harness overhead per job (wall)", f"{over_ms:.1f} ms",
         f"<= 50 ms: {'ok' if over_ms <= 50 else 'MISSED'}"),
        ("harness's own CPU per job (load-independent)", f"{harness_cpu * 1000:.1f} ms", ""),
        (f"ideal makespan, 8 x {args.job_seconds:g} s CPU jobs, --jobs 2", f"{ideal:.2f} s", ""),
        ("measured makespan", f"{measured:.2f} s",
         f"{measured / ideal:.2f}x ideal, <= 1.1x: {'ok' if measured / ideal <= 1.1 else 'MISSED'}"),
    ]
    print(f"cores {os.cpu_count()}, load average {os.getloadavg()[0]:.1f} at the end, python "
          f"{sys.version.split()[0]}")
    print(f"| {'measure':<52} | {'value':>10} | target |\n|{'-' * 54}|{'-' * 12}|--------|")
    for name, value, target in rows:
        print(f"| {name:<52} | {value:>10} | {target} |")


if __name__ == "__main__":
    main()
