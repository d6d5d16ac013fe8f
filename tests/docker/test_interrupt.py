"""Ctrl-C or SIGTERM to the harness while jobs run leaves no container behind, and does so quickly."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time

import pytest

from tests.docker.engine import containers_of

pytestmark = pytest.mark.docker

# Two sleeping jobs on worker threads, as the scheduler runs them; prints the run id, then waits.
HARNESS_PROCESS = textwrap.dedent("""
    import sys
    from concurrent.futures import ThreadPoolExecutor
    from pathlib import Path
    from harness.runners.base import Budget, Job
    from harness.runners.docker import DockerRunner

    root = Path(sys.argv[1])
    runner = DockerRunner()
    assert runner.available()[0]
    print(runner.run_id, flush=True)
    jobs = [Job(job_id=f"s/sleep{i}", criterion_id="sleep", script="sleep.py", extras_dir=root / "extras",
                submission_dir=root / "submission", budget=Budget(wall_seconds=120)) for i in range(2)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(runner.run, jobs))
""")


def _wait_for(predicate, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_interrupted_harness_leaves_no_container(docker_engine, tmp_path, repo_root, signum):
    (tmp_path / "extras").mkdir()
    (tmp_path / "extras" / "sleep.py").write_text("import time\ntime.sleep(300)\n")
    (tmp_path / "submission" / "tinytorch").mkdir(parents=True)
    (tmp_path / "submission" / "tinytorch" / "__init__.py").write_text("")
    harness = subprocess.Popen([sys.executable, "-c", HARNESS_PROCESS, str(tmp_path)], cwd=repo_root,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        run_id = harness.stdout.readline().strip()
        assert run_id, harness.stderr.read()
        assert _wait_for(lambda: len(containers_of(run_id)) == 2, 30), "the two sandboxes never started"
        time.sleep(1.0)  # the scripts are running inside them now
        interrupted_at = time.monotonic()
        harness.send_signal(signum)
        harness.wait(timeout=30)
        assert time.monotonic() - interrupted_at < 15, "the harness took too long to stop"
    finally:
        if harness.poll() is None:
            harness.kill()
            harness.wait()
    assert harness.returncode != 0
    assert containers_of(run_id) == []
