"""The local backend: a plain subprocess with rlimits. Convenient, NOT a security boundary.

What it keeps of the sandbox: its own process group (the whole group is killed at the
wall-clock budget, when the harness is interrupted, and by a watchdog process if the harness
itself dies, even of SIGKILL), rlimits on address space, file size, core dumps and processes, a fresh
work directory and ``/out`` directory (removed even when the harness is interrupted or dies: see
``harness.runners.local.watchdog``), a scrubbed environment, stdin closed. What it cannot
keep: no network isolation, no read-only file system, the student's code runs as this user.
RLIMIT_NPROC counts every process of the user (so the limit is "running now + launcher + pids
budget") and does not apply to root at all, so it is not set there: as root nothing bounds a fork
bomb. RLIMIT_AS limits address space, not resident memory: a budget of N MiB is N MiB of virtual
memory, the stricter of the two.

After the run, the ``/out`` tree is checked against the limits of ``harness.judging.outfiles`` (a tree
past them is the submission's failure, and is removed at once), and the work directory and
``/out`` are removed with ``remove_tree``, which no depth or permission trick defeats.

The script is started by a small launcher (``launcher.py``, its own session and group) that
spawns it into a process group of its own and reports its wait status, peak RSS and CPU time
over a pipe: measured from the harness directly, ``ru_maxrss`` would include the harness's own
resident memory. Both groups are killed at the end, at the wall-clock budget and on cancel.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from harness.judging.outfiles import out_tree_problem, remove_tree
from harness.runners.base import Job, RunResult
from harness.runners.capture import CappedReader
from harness.runners.environment import sandbox_env
from harness.runners.local.watchdog import WATCHDOG, remove_dir
from harness.runners.phases import PhaseServer

_MIB = 1024 * 1024
_PRLIMIT = shutil.which("prlimit")
_LAUNCHER = str(Path(__file__).with_name("launcher.py"))
_OOM_MARKERS = ("MemoryError", "Cannot allocate memory", "std::bad_alloc", "out of memory")


def _user_process_count() -> int:
    uid = os.getuid()
    count = 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                count += entry.stat().st_uid == uid
            except OSError:
                continue
    return count


def _limits(job: Job) -> list[tuple[str, int, int]]:
    """(prlimit name, resource, value) for the child, never above this process's hard limits."""
    wanted = [
        ("as", resource.RLIMIT_AS, job.budget.memory_mib * _MIB),
        ("fsize", resource.RLIMIT_FSIZE, job.budget.out_mib * _MIB),
        ("core", resource.RLIMIT_CORE, 0),
    ]
    if os.geteuid() != 0:  # root is exempt from RLIMIT_NPROC, so it is only worth setting for others
        # NPROC counts all of the user's processes: allow the ones already running, the launcher
        # and the budget.
        wanted.append(("nproc", resource.RLIMIT_NPROC, _user_process_count() + 1 + job.budget.pids))
    limits = []
    for name, which, value in wanted:
        hard = resource.getrlimit(which)[1]
        limits.append((name, which, value if hard == resource.RLIM_INFINITY else min(value, hard)))
    return limits


def _command(script: Path, args: tuple[str, ...], limits, report_fd: int) -> tuple[list[str], object]:
    """The command line and a preexec function (None when the prlimit tool sets the limits).

    The script is started by ``launcher.py`` (a fresh, small interpreter), which reports the
    script's wait status and rusage on ``report_fd``: see that module for why.
    prlimit(1) lets subprocess use its fast vfork path: a preexec function costs ~20 ms per job.
    """
    python = [sys.executable, "-I", "-S", _LAUNCHER, str(report_fd), sys.executable, "-S", str(script), *args]
    if _PRLIMIT:
        return [_PRLIMIT, *(f"--{name}={value}" for name, _, value in limits), "--", *python], None
    return python, lambda: _apply_limits(limits)


def _apply_limits(limits) -> None:
    """Fallback without prlimit(1): runs in the child between fork and exec."""
    for _, which, value in limits:
        resource.setrlimit(which, (value, value))


def _link_datasets(job: Job, workdir: Path) -> Path | None:
    if not job.datasets:
        return None
    data_dir = workdir / ".harness-data"
    data_dir.mkdir()
    for name, host_dir in job.datasets:
        (data_dir / name).symlink_to(Path(host_dir).resolve(), target_is_directory=True)
    return data_dir


def _remove(path: Path | None) -> None:
    """Remove a directory the script wrote in, whatever it left there, and unlist it."""
    remove_tree(path)
    remove_dir(path)


def _take_out(result: RunResult) -> None:
    """Judge the shape of the script's /out: a tree past the limits is its failure, removed now."""
    problem = out_tree_problem(result.out_dir)
    if problem is not None:
        result.out_problem = problem
        result.stderr += f"\n[harness: {problem}]"
        _remove(result.out_dir)
        result.out_dir = None


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class _Report:
    """Read the launcher's report pipe on a thread (see ``launcher.py`` for its lines)."""

    def __init__(self, fd: int, on_pid):
        self._fd = fd
        self._on_pid = on_pid  # called on the reading thread with the script's pid, once
        self._data = b""
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        try:
            told = False
            while chunk := os.read(self._fd, 4096):
                with self._lock:
                    self._data += chunk
                if not told and (pid := self.script_pid()) is not None:
                    told = True
                    self._on_pid(pid)
        except OSError:
            pass
        finally:
            os.close(self._fd)

    def _field(self, key: str) -> list[str] | None:
        with self._lock:
            lines = self._data.decode("ascii", errors="replace").splitlines()
        for line in lines:
            words = line.split()
            if words and words[0] == key:
                return words[1:]
        return None

    def script_pid(self) -> int | None:
        words = self._field("pid")
        return int(words[0]) if words else None

    def join(self, timeout: float) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def outcome(self) -> tuple[int, float, float] | None:
        """(wait status, peak RSS MiB, CPU seconds) of the script, or None if never reported."""
        words = self._field("status")
        if not words or len(words) != 4:
            return None
        return int(words[0]), int(words[1]) / 1024.0, float(words[2]) + float(words[3])


def _proc_usage(pid: int | None) -> tuple[float, float] | None:
    """(peak RSS MiB, CPU seconds incl. reaped children) of a live process, from /proc; or None."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        with open(f"/proc/{pid}/status") as handle:
            hwm = next(line for line in handle if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return None
    ticks = sum(int(value) for value in fields[11:15])  # utime, stime, cutime, cstime
    return int(hwm.split()[1]) / 1024.0, ticks / os.sysconf("SC_CLK_TCK")


def _looks_out_of_memory(stderr: str, sig: int | None) -> bool:
    """For a run that died and was not timed out: an allocation failure or the kernel's OOM killer."""
    if sig == signal.SIGKILL:
        return True  # the harness did not send it (no timeout): the kernel's OOM killer did
    tail = stderr[-4000:]
    return any(marker in tail for marker in _OOM_MARKERS)


class LocalRunner:
    """Run a job as a subprocess of this process (see the module docstring for its limits)."""

    name = "local"

    def __init__(self):
        self._lock = threading.Lock()
        self._live: set[int] = set()  # process groups of the jobs running now
        self._cancelled = False

    def cancel(self) -> None:
        """Kill the process group of every job running now, and start no job after this."""
        with self._lock:
            self._cancelled = True
            groups = list(self._live)
        for pgid in groups:
            _kill_group(pgid)

    def _track(self, pgid: int) -> bool:
        """Register a job's new process group; True if the runner was cancelled meanwhile."""
        with self._lock:
            self._live.add(pgid)
            cancelled = self._cancelled
        WATCHDOG.add_group(pgid)
        return cancelled

    def _untrack(self, pgid: int) -> bool:
        """Forget a job's group (already killed); True if the runner was cancelled."""
        WATCHDOG.discard_group(pgid)
        with self._lock:
            self._live.discard(pgid)
            return self._cancelled

    def available(self) -> tuple[bool, str]:
        return True, ""

    def describe(self) -> dict:
        return {
            "backend": "local",
            "python": sys.executable,
            "isolation": "process group + rlimits only; not a security boundary",
        }

    def run(self, job: Job) -> RunResult:
        result = RunResult(job_id=job.job_id, backend=self.describe(), started_at=time.time())
        if self._cancelled:
            result.infra_error = "not run: the harness was interrupted before this job started"
            result.finished_at = result.started_at
            return result
        workdir = None
        try:
            # Both directories are listed with the watchdog, which removes them if the harness dies.
            workdir = WATCHDOG.make_dir("harness-work-")
            result.out_dir = WATCHDOG.make_dir("harness-out-")
            self._run_in(job, workdir, result)
            _take_out(result)
        except Exception as exc:  # whatever stopped the run, it was not the script
            result.infra_error = f"could not run {job.script} locally: {type(exc).__name__}: {exc}"
        except BaseException:  # e.g. Ctrl-C on the calling thread: no result, so no /out copy either
            _remove(result.out_dir)
            raise
        finally:
            _remove(workdir)
            result.finished_at = time.time()
        if result.infra_error:  # not the script's outcome: nothing in /out is judged
            _remove(result.out_dir)
            result.out_dir = None
        return result

    def _run_in(self, job: Job, workdir: Path, result: RunResult) -> None:
        script = (Path(job.extras_dir) / job.script).resolve()
        env = sandbox_env(job, workdir, result.out_dir, _link_datasets(job, workdir))
        report_read, report_write = os.pipe()
        try:
            command, preexec = _command(script, job.args, _limits(job), report_write)
            start = time.monotonic()
            proc = subprocess.Popen(
                command, cwd=workdir, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, start_new_session=True, preexec_fn=preexec, pass_fds=(report_write,),
            )
        except BaseException:
            os.close(report_read)
            raise
        finally:
            os.close(report_write)  # only the launcher holds it now: EOF when the launcher ends
        # The launcher's group, then the script's own group once the launcher reports its pid.
        groups = [proc.pid]
        fired = threading.Event()
        at_timeout: list = []

        def on_script(pid: int) -> None:  # on the report thread
            groups.append(pid)
            if self._track(pid) or fired.is_set():  # cancelled or timed out before it was known
                _kill_group(pid)

        def kill_all() -> None:
            for pgid in reversed(groups):  # the script's group first
                _kill_group(pgid)

        if self._track(proc.pid):  # cancel() ran after the check in run(), before this group existed
            _kill_group(proc.pid)
        report = _Report(report_read, on_script)
        phases = PhaseServer.for_job(job)
        out = CappedReader(os.dup(proc.stdout.fileno()), tap=phases.feed if phases else None)
        err = CappedReader(os.dup(proc.stderr.fileno()))
        proc.stdout.close()
        proc.stderr.close()

        def on_timeout() -> None:
            fired.set()
            # The launcher dies with the groups before it can report: measure the script first.
            at_timeout.append(_proc_usage(report.script_pid()))
            kill_all()

        def finish() -> bool:
            """Kill what is left of the job's groups and forget them; True if the runner was cancelled."""
            report.join(5.0)  # the launcher has ended: its pipe is at EOF, and on_script has run
            kill_all()
            return any([self._untrack(pgid) for pgid in groups])

        timer = threading.Timer(job.budget.wall_seconds, on_timeout)
        timer.daemon = True
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:  # e.g. Ctrl-C when the caller runs the job on the main thread
            kill_all()
            finish()
            raise
        result.wall_seconds = time.monotonic() - start
        timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)  # so Popen never waits again
        cancelled = finish()  # grandchildren left behind die with the script's group
        drained = out.join(5.0) and err.join(5.0)
        reported = report.outcome()
        launcher_failed = False
        if reported is not None:  # the script's own status and usage, measured by the launcher
            status, result.peak_rss_mib, result.cpu_seconds = reported
        else:  # the launcher died (groups killed, or prlimit failed): its status stands for the job
            launcher_failed = not os.WIFSIGNALED(status)
            snapshot = at_timeout[0] if at_timeout else None
            if snapshot is not None:
                result.peak_rss_mib, result.cpu_seconds = snapshot
            else:  # ru_maxrss here would include the harness's own RSS (see launcher.py): unknown
                result.cpu_seconds = usage.ru_utime + usage.ru_stime

        # A process that exited by itself just as the timer fired did not time out.
        result.timed_out = fired.is_set() and os.WIFSIGNALED(status)
        if os.WIFSIGNALED(status):
            result.signal = os.WTERMSIG(status)
        else:
            result.exit_code = os.WEXITSTATUS(status)
        result.stdout = out.text()
        result.stderr = err.text()
        if not drained:
            result.stderr += "\n[harness: a process outside the group kept the output pipe open]\n"
        if phases is not None:
            phases.record_into(result)
        if _PRLIMIT and result.exit_code and result.stderr.startswith("prlimit: "):
            result.infra_error = f"could not set resource limits: {result.stderr.strip()}"
        elif launcher_failed:
            result.infra_error = f"the launcher could not start the script: {result.stderr.strip()[-2000:]}"
        if cancelled and result.signal == signal.SIGKILL and not result.timed_out:
            result.infra_error = "stopped: the harness was interrupted while this job ran"
            return
        crashed = result.signal is not None or result.exit_code != 0
        if crashed and not result.timed_out:
            result.oom_killed = _looks_out_of_memory(result.stderr, result.signal)
