"""Ctrl-C or SIGTERM to the harness while jobs run leaves no container behind, and does so quickly."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from harness.runners.base import Budget, Job
from tests.docker_support import containers_of
from tests.polling import wait_until

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
        assert wait_until(lambda: len(containers_of(run_id)) == 2, 30), "the two sandboxes never started"
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


def test_an_interrupted_batch_cancels_its_containers_and_starts_no_more(docker_runner, run_results, tmp_path):
    from harness.runners.base import Budget, Job
    from harness.scheduler import run_parallel

    (tmp_path / "extras").mkdir()
    (tmp_path / "extras" / "quick.py").write_text("print('done')\n")
    (tmp_path / "extras" / "sleep.py").write_text("import time\ntime.sleep(300)\n")
    (tmp_path / "submission" / "tinytorch").mkdir(parents=True)
    (tmp_path / "submission" / "tinytorch" / "__init__.py").write_text("")
    for path in [tmp_path, *tmp_path.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    jobs = [Job(job_id=f"s/{name}", criterion_id=name.rstrip("0123456789"),
                script=f"{name.rstrip('0123456789')}.py", extras_dir=tmp_path / "extras",
                submission_dir=tmp_path / "submission", budget=Budget(wall_seconds=300))
            for name in ("quick", "sleep1", "sleep2", "sleep3", "sleep4")]
    started = []

    def run(job):
        started.append(job.job_id)
        return run_results(docker_runner.run(job))

    def on_result(job, result):
        raise RuntimeError(f"stop after {job.job_id}")

    began = time.monotonic()
    with pytest.raises(RuntimeError, match="stop after s/quick"):
        run_parallel(jobs, run, jobs=2, expected_seconds=lambda job: 10 if job.job_id == "s/quick" else 1,
                     on_error=lambda job, exc: None, on_result=on_result, cancel=docker_runner.cancel)
    assert time.monotonic() - began < 60, "the sleeping containers were not stopped"
    assert len(started) <= 3, f"queued jobs kept starting: {started}"
    assert containers_of(docker_runner.run_id) == []


def test_cancel_stops_the_running_job_and_starts_no_more(docker_runner, run_results, tmp_path):
    (tmp_path / "extras").mkdir()
    (tmp_path / "extras" / "sleep.py").write_text("import time\ntime.sleep(300)\n")
    (tmp_path / "submission" / "tinytorch").mkdir(parents=True)
    (tmp_path / "submission" / "tinytorch" / "__init__.py").write_text("")
    job = Job(job_id="s/sleep", criterion_id="sleep", script="sleep.py", extras_dir=tmp_path / "extras",
              submission_dir=tmp_path / "submission", budget=Budget(wall_seconds=120))
    results = []
    worker = threading.Thread(target=lambda: results.append(run_results(docker_runner.run(job))))
    worker.start()
    assert wait_until(lambda: len(containers_of(docker_runner.run_id)) == 1, 30)
    time.sleep(1.0)
    cancelled_at = time.monotonic()
    docker_runner.cancel()
    worker.join(20)
    assert not worker.is_alive() and time.monotonic() - cancelled_at < 10
    (stopped,) = results
    assert stopped.infra_error.startswith("stopped: the harness was interrupted while this job ran")
    assert stopped.out_dir is None
    refused = run_results(docker_runner.run(job))
    assert refused.infra_error == "not run: the harness was interrupted before this job started"
    assert refused.out_dir is None
    assert containers_of(docker_runner.run_id) == []
