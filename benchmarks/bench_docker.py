"""Docker backend cost: per-job container overhead, and `harness check --all` with docker vs local.

    python benchmarks/bench_docker.py                 # overhead (20 no-op jobs) + both checks
    python benchmarks/bench_docker.py --overhead-only # skip the two full `harness check` runs

Overhead = the whole ``DockerRunner.run`` (create, start, exec, exit, stats, collect /out,
remove) minus the script's own wall time inside the container; the local backend's no-op run
is shown beside it. Needs a Docker engine and the grading image (`harness image build`).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness.runners.base import Budget, Job
from harness.runners.docker import DockerRunner
from harness.runners.local import LocalRunner

REPO = Path(__file__).resolve().parents[1]
CLI = "import sys; from harness.cli import main; sys.exit(main())"


def _noop_job(root: Path) -> Job:
    (root / "extras").mkdir()
    script = "import os\nopen(os.environ['HARNESS_OUT'] + '/m.txt', 'w').write('x')\n"
    (root / "extras" / "noop.py").write_text(script)
    (root / "submission" / "tinytorch").mkdir(parents=True)
    (root / "submission" / "tinytorch" / "__init__.py").write_text("")
    return Job(job_id="bench/noop", criterion_id="noop", script="noop.py", extras_dir=root / "extras",
               submission_dir=root / "submission", budget=Budget(wall_seconds=60))


def measure(runner, job: Job, repeats: int) -> tuple[list[float], list[float]]:
    """(total seconds of runner.run, seconds the script itself ran) per repeat, after one warm-up."""
    totals, inside = [], []
    for repeat in range(repeats + 1):
        start = time.perf_counter()
        result = runner.run(job)
        try:
            if repeat:  # the first run is the warm-up
                totals.append(time.perf_counter() - start)
                inside.append(result.wall_seconds)
            assert result.exit_code == 0 and result.out_dir is not None, (result.infra_error, result.stderr)
        finally:
            if result.out_dir is not None:  # the caller removes the /out copy (RunResult.out_dir)
                shutil.rmtree(result.out_dir, ignore_errors=True)
    return totals, inside


def _row(name: str, values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
    return f"| {name:<34} | {statistics.median(values):7.3f} | {p90:7.3f} | {min(values):7.3f} |"


def overhead_table(repeats: int) -> str:
    docker_runner = DockerRunner()
    ok, why = docker_runner.available()
    if not ok:
        sys.exit(f"docker backend not available: {why}")
    with tempfile.TemporaryDirectory() as tmp:
        job = _noop_job(Path(tmp))
        d_total, d_inside = measure(docker_runner, job, repeats)
        l_total, l_inside = measure(LocalRunner(), job, repeats)
    lines = [f"no-op job, {repeats} runs each (seconds)", "",
             "| measure                            |  median |     p90 |     min |",
             "|------------------------------------|---------|---------|---------|",
             _row("docker: whole run", d_total),
             _row("docker: script inside container", d_inside),
             _row("docker: container overhead", [t - i for t, i in zip(d_total, d_inside, strict=True)]),
             _row("local: whole run", l_total)]
    return "\n".join(lines)


def check_table() -> str:
    rows = ["`harness check --all --profile quick` on the reference, two jobs in parallel (seconds)", "",
            "| backend | wall | exit | summary |", "|---------|------|------|---------|"]
    for backend in ("docker", "local"):
        with tempfile.TemporaryDirectory() as reports:
            start = time.perf_counter()
            done = subprocess.run([sys.executable, "-c", CLI, "check", "--all", "--profile", "quick",
                                   "--backend", backend, "--quiet", "--report-dir", reports],
                                  cwd=REPO, capture_output=True, text=True)
            wall = time.perf_counter() - start
        lines = (done.stdout.strip() or done.stderr.strip() or "no output").splitlines()
        rows.append(f"| {backend} | {wall:.1f} | {done.returncode} | {lines[-1][:80]} |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--overhead-only", action="store_true")
    args = parser.parse_args()
    print(overhead_table(args.repeats))
    if not args.overhead_only:
        print()
        print(check_table())


if __name__ == "__main__":
    main()
