"""Run a small probe script in a real sandbox and read back what it saw (its last stdout line, JSON)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from harness.runners.base import Budget, Job, RunResult


def run_probe(runner, tmp_path: Path, code: str, budget: Budget | None = None,
              datasets: tuple[tuple[str, Path], ...] = (), args: tuple[str, ...] = ()) -> RunResult:
    extras = tmp_path / "extras"
    extras.mkdir(parents=True, exist_ok=True)
    (extras / "probe.py").write_text(textwrap.dedent(code))
    package = tmp_path / "submission" / "tinytorch"
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text("ANSWER = 42\n")
    for path in (extras, package.parent, package):  # world-writable: only the read-only mount can refuse
        path.chmod(0o777)
    (package / "__init__.py").chmod(0o666)
    job = Job(job_id="probe/probe", criterion_id="probe", script="probe.py", extras_dir=extras,
              submission_dir=package.parent, args=args, budget=budget or Budget(wall_seconds=30),
              datasets=datasets)
    return runner.run(job)


def seen(result: RunResult) -> dict:
    """The JSON object the probe printed last."""
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    assert lines, f"probe printed no JSON; stdout={result.stdout[-500:]!r} stderr={result.stderr[-1500:]!r}"
    return json.loads(lines[-1])
