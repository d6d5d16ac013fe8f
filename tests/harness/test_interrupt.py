"""Stopping the harness: Ctrl-C ends the batch at once, and no job outlives the harness (SIGKILL too)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from harness.runners.base import Budget, Job
from harness.runners.local import LocalRunner
from harness.runners.local.watchdog import Watchdog
from harness.scheduler import run_parallel
from tests.harness.conftest import REPO, REPORT, budget
from tests.polling import wait_until

# Writes ../markers/<extra> = "<start time> <pid> <pgid> <grandchild pid>", then sleeps with a grandchild.
SLEEPER = """\
import os, subprocess, sys, time
started = time.time()
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
here = os.path.dirname(os.path.abspath(__file__))
marker = os.path.join(here, os.pardir, "markers", os.path.basename(__file__)[:-3])
with open(marker + ".tmp", "w") as f:
    f.write(f"{started} {os.getpid()} {os.getpgid(0)} {child.pid}")
os.rename(marker + ".tmp", marker)
time.sleep(120)
"""


def _stat_fields(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _living(predicate) -> set[int]:
    """Pids of non-zombie processes whose stat fields (after the name) satisfy ``predicate``."""
    found = set()
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields and fields[0] != "Z" and predicate(fields):
                found.add(int(entry.name))
    return found


def _in_groups(pgids: set[int]) -> set[int]:
    return _living(lambda fields: int(fields[2]) in pgids)  # fields: state, ppid, pgrp, ...


def _children_of(pid: int) -> set[int]:
    return _living(lambda fields: int(fields[1]) == pid)


class Markers:
    """What the sleeping fake jobs wrote about themselves."""

    def __init__(self, root: Path):
        self.root = root
        root.mkdir()

    def read(self) -> dict[str, tuple[float, int, int, int]]:
        found = {}
        for path in self.root.iterdir():
            if not path.name.endswith(".tmp"):
                started, pid, pgid, grandchild = path.read_text().split()
                found[path.name] = (float(started), int(pid), int(pgid), int(grandchild))
        return found


def check_command(project, tmp_path: Path) -> tuple[list[str], dict[str, str], Path]:
    """`harness check --all` of ``project`` on the local backend, 2 jobs, as a subprocess: the
    command, its environment, and the fresh TMPDIR it gets (where its sandbox dirs are made)."""
    tmpdir = tmp_path / "harness-tmp"
    tmpdir.mkdir()
    env = {**os.environ, "PYTHONPATH": str(REPO), "TMPDIR": str(tmpdir)}
    command = [sys.executable, "-m", "harness.cli", "check", "--all", "--backend", "local", "--jobs", "2",
               "--quiet", "--tinytorch", str(project.submission), "--criteria-dir", str(project.criteria),
               "--extras-dir", str(project.extras), "--report-dir", str(tmp_path / "reports")]
    return command, env, tmpdir


def sandbox_dirs(tmpdir: Path) -> list[str]:
    """The harness's temporary directories (local work dirs, /out copies) left in ``tmpdir``."""
    return sorted(path.name for path in tmpdir.glob("harness-*"))


@pytest.fixture
def sleepers(project, tmp_path):
    """Six fake extras that each sleep two minutes with a grandchild, and a `harness check` to start
    (with its own TMPDIR, ``start.tmpdir``)."""
    markers = Markers(project.extras.parent / "markers")
    for i in range(6):
        project.add(f"sleep{i}", SLEEPER, full=budget(wall_seconds=300))
    command, env, tmpdir = check_command(project, tmp_path)
    procs = []

    def start() -> subprocess.Popen:
        proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        procs.append(proc)
        assert wait_until(lambda: len(markers.read()) == 2 or proc.poll() is not None, 60), \
            "two jobs did not start within 60 s"
        assert proc.poll() is None, f"harness ended early: {proc.communicate()}"
        return proc

    start.markers = markers
    start.tmpdir = tmpdir
    yield start
    for proc in procs:  # on a failed assertion: nothing may be left running
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    for _, pid, pgid, grandchild in markers.read().values():
        for target in _in_groups({pgid}) | {pid, grandchild}:
            try:
                os.kill(target, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_a_finished_check_leaves_no_temporary_directory(project, tmp_path):
    for name in ("one", "two", "three"):
        project.add(name, REPORT + "open(os.path.join(os.environ['TMPDIR'], 'scratch'), 'w').write('x')\n"
                    "report('score', 1.0)\n")
    project.add("broken", "raise SystemExit(3)\n")
    command, env, tmpdir = check_command(project, tmp_path)
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr  # three passed, one crashed
    assert done.stdout.strip() == "student: crashed 30/40"
    assert sandbox_dirs(tmpdir) == []


def _running_sandbox_dirs(tmpdir: Path) -> list[str]:
    """The two running jobs' work and /out dirs: the runs really use this TMPDIR."""
    found = sandbox_dirs(tmpdir)
    assert sum(name.startswith("harness-work-") for name in found) == 2, found
    assert sum(name.startswith("harness-out-") for name in found) == 2, found
    return found


def test_ctrl_c_stops_the_batch_at_once_and_leaves_no_process(sleepers):
    harness = sleepers()
    _running_sandbox_dirs(sleepers.tmpdir)
    helpers = _children_of(harness.pid)  # the two jobs and the watchdog
    interrupted_at = time.time()
    harness.send_signal(signal.SIGINT)
    _, stderr = harness.communicate(timeout=30)
    took = time.time() - interrupted_at
    assert harness.returncode == 130 and "harness: interrupted" in stderr
    assert took < 5, f"the harness took {took:.1f} s to stop after Ctrl-C"
    time.sleep(0.5)
    started = sleepers.markers.read()
    assert len(started) == 2, f"jobs started after Ctrl-C: {sorted(started)}"
    assert all(t < interrupted_at for t, _, _, _ in started.values())
    groups = {pgid for _, _, pgid, _ in started.values()}
    assert wait_until(lambda: not _in_groups(groups) and not (helpers & _living(lambda f: True)), 3), \
        f"processes left behind: {_in_groups(groups)} {helpers & _living(lambda f: True)}"
    assert sandbox_dirs(sleepers.tmpdir) == [], "work or /out dirs left behind after Ctrl-C"


def test_jobs_die_with_a_sigkilled_harness_and_the_watchdog_removes_their_dirs(sleepers):
    harness = sleepers()
    _running_sandbox_dirs(sleepers.tmpdir)
    helpers = _children_of(harness.pid)
    started = sleepers.markers.read()
    groups = {pgid for _, _, pgid, _ in started.values()}
    assert len(_in_groups(groups)) == 4, "each job's group holds the script and its grandchild"
    harness.send_signal(signal.SIGKILL)
    harness.communicate(timeout=10)
    assert wait_until(lambda: not _in_groups(groups), 5), f"job processes outlived the harness: " \
        f"{_in_groups(groups)}"
    assert wait_until(lambda: not (helpers & _living(lambda f: True)), 5), "the watchdog outlived its work"
    assert len(sleepers.markers.read()) == 2
    assert wait_until(lambda: not sandbox_dirs(sleepers.tmpdir), 5), \
        f"the watchdog left work or /out dirs: {sandbox_dirs(sleepers.tmpdir)}"


def test_a_cancelled_local_runner_stops_its_job_and_starts_no_other(project, run_results, tmp_path):
    pid_file = tmp_path / "pid"
    (project.extras / "sleep.py").write_text(
        "import os, sys, time\nopen(sys.argv[1], 'w').write(str(os.getpid()))\ntime.sleep(60)\n")
    job = Job("s/sleep", "sleep", "sleep.py", project.extras, project.submission, args=(str(pid_file),),
              budget=Budget(wall_seconds=60))
    runner = LocalRunner()
    results = []
    thread = threading.Thread(target=lambda: results.append(run_results(runner.run(job))))
    thread.start()
    assert wait_until(lambda: pid_file.exists() and pid_file.read_text(), 30), "the job never started"
    cancelled_at = time.monotonic()
    runner.cancel()
    thread.join(10)
    assert not thread.is_alive() and time.monotonic() - cancelled_at < 5
    (result,) = results
    assert result.infra_error == "stopped: the harness was interrupted while this job ran"
    assert result.out_dir is None, "a stopped job's /out copy is removed by the runner itself"
    assert result.signal == signal.SIGKILL and not result.oom_killed and not result.timed_out
    assert wait_until(lambda: not _in_groups({int(pid_file.read_text())}), 3)
    pid_file.unlink()
    after = run_results(runner.run(job))
    assert after.infra_error == "not run: the harness was interrupted before this job started"
    assert after.out_dir is None and after.wall_seconds == 0.0 and not pid_file.exists()


def test_an_exception_in_the_callback_cancels_the_batch_and_propagates():
    release = threading.Event()
    started, finished = [], []
    expected = {"quick": 10, "slow": 9, **{f"queued{i}": 1 for i in range(6)}}

    def work(name):
        started.append((name, time.monotonic()))
        if name != "quick":
            release.wait(30)
        finished.append(name)
        return name

    def on_result(name, result):
        raise RuntimeError(f"progress display broke on {name}")

    began = time.monotonic()
    with pytest.raises(RuntimeError, match="progress display broke on quick"):
        run_parallel(list(expected), work, jobs=2, expected_seconds=expected.get,
                     on_error=lambda name, exc: "error", on_result=on_result, cancel=release.set)
    raised_at = time.monotonic()
    assert raised_at - began < 5, "the running job was released by cancel(), not by its 30 s wait"
    assert sorted(finished) == sorted(name for name, _ in started), "running jobs finished before the raise"
    time.sleep(0.3)
    assert len(started) <= 3, f"queued jobs kept starting: {started}"  # quick, slow, and at most one more
    assert all(at < raised_at for _, at in started)


def test_ctrl_c_during_a_run_on_the_calling_thread_removes_its_dirs(project, tmp_path, monkeypatch):
    tmpdir = tmp_path / "harness-tmp"
    tmpdir.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmpdir))
    seen_file = tmp_path / "seen"
    (project.extras / "sleep.py").write_text(
        "import os, sys, time\n"
        "open(sys.argv[1] + '.tmp', 'w').write(os.getcwd() + '\\n' + os.environ['HARNESS_OUT'])\n"
        "os.rename(sys.argv[1] + '.tmp', sys.argv[1])\ntime.sleep(60)\n")
    job = Job("s/sleep", "sleep", "sleep.py", project.extras, project.submission, args=(str(seen_file),),
              budget=Budget(wall_seconds=60))

    def interrupt_once_running():
        if wait_until(seen_file.exists, 30):
            os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt_once_running, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        LocalRunner().run(job)  # on the main thread, as the pytest plugin runs jobs
    workdir, out_dir = seen_file.read_text().split("\n")
    assert {Path(workdir).parent, Path(out_dir).parent} == {tmpdir}
    assert sandbox_dirs(tmpdir) == [], "the interrupted run left its work or /out dir"


def test_the_watchdog_forgets_vanished_dirs_and_removes_listed_ones_when_the_harness_goes(tmp_path):
    dog = Watchdog()
    for _ in range(255):
        dog.make_dir("gone", tmp_path).rmdir()  # removed by the caller, who does not tell the watchdog
    kept = dog.make_dir("kept", tmp_path)  # the 256th: the vanished ones are forgotten now
    (kept / "nested").mkdir()
    (kept / "nested" / "file").write_text("x")
    forgotten = dog.make_dir("forgotten", tmp_path)
    dog.discard_dir(forgotten)  # as the runners do when they remove a dir themselves
    assert dog.listed() == (set(), {str(kept)})
    assert kept.stat().st_mode & 0o777 == 0o700, "private, as mkdtemp makes them"
    dog.close()  # as when the harness dies: end of file on the watchdog's pipe
    assert not kept.exists(), "a listed dir is removed when the harness goes"
    assert forgotten.is_dir(), "a discarded dir is not the watchdog's any more"


def test_the_watchdog_removes_a_listed_tree_however_deep_and_locked(tmp_path):
    """A job may leave 2,000 nested dirs, the top one mode 000: shutil.rmtree recurses out of stack."""
    dog = Watchdog()
    listed = dog.make_dir("harness-out-", tmp_path)
    fd = os.open(listed, os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(2000):  # deeper than PATH_MAX, so one level at a time
        os.mkdir("d", dir_fd=fd)
        fd, parent = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd), fd
        os.close(parent)
    os.close(fd)
    (listed / "d").chmod(0)
    dog.close()
    assert not listed.exists()


def test_a_dir_the_watchdog_could_not_make_is_not_listed(tmp_path):
    dog = Watchdog()
    with pytest.raises(FileNotFoundError):
        dog.make_dir("harness-out-", tmp_path / "missing")
    assert dog.listed() == (set(), set())
    dog.close()


def test_the_watchdog_kills_a_job_working_in_a_listed_dir_whose_group_it_was_never_told(tmp_path):
    """The harness may die after starting a job and before listing its process group."""
    dog = Watchdog()
    workdir = dog.make_dir("harness-work-", tmp_path)
    job = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], cwd=workdir,
                           start_new_session=True)
    try:
        dog.close()
        assert job.wait(timeout=10) == -signal.SIGKILL
        assert not workdir.exists()
    finally:
        if job.poll() is None:
            job.kill()
            job.wait()
