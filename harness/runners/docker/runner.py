"""The docker backend: each job in a fresh, locked-down container of the grading image.

The container: no network, read-only root, uid 10001, all capabilities dropped,
no-new-privileges, memory limit with swap equal to it, CPU and pids limits, size-capped tmpfs
for /tmp, /work (the working directory) and /out; the extras (with ``_harness``), the
submission's ``tinytorch/`` package (alone, at /submission/tinytorch) and each dataset's sandbox
view bind-mounted read-only. Its PID 1 is a tiny idle process that
ignores every signal and auto-reaps orphans, so the container outlives the script: the script is
started with ``exec``, and when it ends a trusted ``tar`` (from the read-only image) streams /out
to the host, capped and unpacked without following links. Then the container is removed, in
every case (see ``docker_cleanup`` for Ctrl-C and crashed harness processes).

A fork bomb cannot stop that finishing step: the engine moves an exec's first process into the
cgroup (the pids limit refuses forks, not moves), and the step forks nothing until it has killed
the leftovers and seen them gone. Leftovers that kill every process of the sandbox user can still
kill the step; then the host sends SIGUSR1 to PID 1 (no new process needed), which kills every
other process until none is left, and the step runs again (a bounded number of times). The
cgroup's count of refused forks, read first by that step (or the engine's process count at a
timeout), tells a run that reached its pids limit.

Exit status: docker reports a script killed by signal N as exit code 128+N, so a script that
calls ``sys.exit(137)`` is indistinguishable from SIGKILL; codes 129..192 are read as signals.
Out-of-memory: the kernel's ``oom_kill`` count of the container's memory cgroup, read by the
trusted finishing step (with the engine's ``oom`` event as fallback). Not ``State.OOMKilled``:
with cgroup v1 it stays false when only the exec'd script, not PID 1, is killed. Peak memory and
CPU time come from the same cgroup (the whole container, a few MiB above the script alone).
"""

from __future__ import annotations

import os
import re
import signal
import stat
import threading
import time
import uuid
from pathlib import Path, PurePosixPath

from harness.judging.outfiles import OutProblem
from harness.runners.base import Job, RunResult
from harness.runners.capture import CappedText
from harness.runners.docker import cleanup as docker_cleanup
from harness.runners.docker.out import NoTarStream, extract_out
from harness.runners.environment import sandbox_env
from harness.runners.local.watchdog import WATCHDOG, remove_dir
from harness.runners.phases import PhaseServer

SANDBOX_USER = "10001:10001"
SANDBOX_PATH = "/opt/venv/bin:/usr/local/bin:/usr/bin:/bin"
_MIB = 1024 * 1024
_DATASET_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_POLL_SECONDS = 0.25
_OOM_EVENT_PATIENCE_SECONDS = 2.0
_COLLECT_GRACE_SECONDS = 30.0  # PID 1 outlives the budget by this much, then the container stops
_FINISH_ATTEMPTS = 3  # the finishing step, retried after PID 1 has killed what the script left
_SWEEP_SECONDS = 5.0  # how long PID 1 (and the host, waiting for it) tries to clear the container
# PID 1 ignores every signal (SIGCHLD too: orphans are reaped by the kernel) but SIGUSR1, on which
# it kills every other process of the container (the sandbox user's), until none is left.
_IDLE_PID1 = (
    "import os, signal, sys, time\n"
    "def sweep(*_):\n"
    f"    end = time.monotonic() + {_SWEEP_SECONDS}\n"
    "    while time.monotonic() < end:\n"
    "        try:\n"
    "            os.kill(-1, signal.SIGKILL)\n"
    "        except OSError:\n"  # ESRCH: no process left to kill
    "            return\n"
    "for s in range(1, signal.NSIG):\n"
    "    try:\n"
    "        signal.signal(s, sweep if s == signal.SIGUSR1 else signal.SIG_IGN)\n"
    "    except (OSError, ValueError, RuntimeError):\n"
    "        pass\n"
    "time.sleep(float(sys.argv[1]))\n"
)
# `measure ROOT`: the peak memory, CPU time and OOM kills of the cgroup mounted at ROOT, one
# "usage NAME VALUE" line each, from the cgroup v1 or the v2 layout.
# `refused ROOT`: the forks its pids limit has refused so far; `settle ROOT`: wait (bounded) until
# it holds only PID 1 and this shell. Both use shell builtins only, so they work while the
# script's leftovers fill the process table (the finishing step itself got in: the engine moves
# an exec's first process into the cgroup, which the limit does not refuse).
MEASURE_CGROUP = """
measure() {
  c=$1
  if [ -r $c/memory/memory.max_usage_in_bytes ]; then
    echo "usage peak_bytes $(cat $c/memory/memory.max_usage_in_bytes)"
    echo "usage cpu_ns $(cat $c/cpuacct/cpuacct.usage 2>/dev/null || cat $c/cpu,cpuacct/cpuacct.usage)"
    echo "usage $(grep '^oom_kill ' $c/memory/memory.oom_control)"
  else
    echo "usage peak_bytes $(cat $c/memory.peak 2>/dev/null)"
    echo "usage cpu_us $(sed -n 's/^usage_usec //p' $c/cpu.stat)"
    echo "usage $(grep '^oom_kill ' $c/memory.events)"
  fi
}
refused() {
  p=$1/pids; [ -r $p/pids.events ] || p=$1
  read key n 2>/dev/null < $p/pids.events && echo "usage pids_refused $n"
}
settle() {
  p=$1/pids; [ -r $p/pids.current ] || p=$1
  i=0
  while [ $i -lt 100000 ] && read n 2>/dev/null < $p/pids.current && [ "$n" -gt 2 ]; do
    i=$((i + 1))
  done
}
"""
# Run as the sandbox user from the read-only image once the script has ended: count the forks
# the script was refused, kill its leftovers and wait for them to be gone, report the container's
# cgroup usage on stderr, stream /out as tar (made readable first: the script may have locked it).
_FINISH = MEASURE_CGROUP + """
refused /sys/fs/cgroup >&2
kill -KILL -1 2>/dev/null
settle /sys/fs/cgroup
chmod u+rwx /out
measure /sys/fs/cgroup >&2
exec tar -C /out -cf - .
"""
_USAGE_LINE = re.compile(r"^usage (peak_bytes|cpu_ns|cpu_us|oom_kill|pids_refused) (\d+)$")
# The backend registry adds the `--backend local` alternative to these messages.
NO_ENGINE_HELP = (
    "start one (Linux: `sudo dockerd &` or `sudo systemctl start docker`; macOS/Windows: start "
    "Docker Desktop)"
)


class SetupError(Exception):
    """The job cannot be run in a container (engine, image or mount problem); not the script's fault."""


class _FinishFailed(Exception):
    """The finishing step sent no whole tar stream; the message says what it reported."""


def parse_usage(text: str) -> tuple[dict[str, int], list[str]]:
    """The values of ``MEASURE_CGROUP``'s lines in ``text``, and its other non-empty lines (a
    value the cgroup did not have, e.g. ``memory.peak`` before Linux 5.19, is left out)."""
    usage: dict[str, int] = {}
    other = []
    for line in text.splitlines():
        match = _USAGE_LINE.match(line.strip())
        if match:
            usage[match.group(1)] = int(match.group(2))
        elif line.strip() and not line.startswith("usage "):
            other.append(line.strip())
    return usage, other


def _exit_status(code: int | None) -> tuple[int | None, int | None]:
    """(exit_code, signal) from docker's exit code, where 128+N means killed by signal N."""
    if code is not None and 128 < code <= 128 + 64:
        return None, code - 128
    return code, None


def _mounts(job: Job) -> list:
    """Read-only binds: the extras, the submission's ``tinytorch/`` package only, each dataset view,
    and the run's inputs (secret probes) at /in."""
    from docker.types import Mount

    extras, package = Path(job.extras_dir), Path(job.submission_dir) / "tinytorch"
    binds = [("/extras", extras, [extras / job.script, extras / "_harness"]),
             ("/submission/tinytorch", package, [package])]
    for name, host_dir in job.datasets:
        if not _DATASET_NAME.match(name):
            raise SetupError(f"dataset name {name!r} is not a plain name (letters, digits, _ . -)")
        binds.append((f"/data/{name}", Path(host_dir), []))
    if job.inputs is not None:
        binds.append(("/in", Path(job.inputs), [Path(job.inputs)]))
    mounts = []
    for target, source, needed in binds:
        if not source.is_dir():
            raise SetupError(f"{source} (to mount at {target}) is not a directory")
        for path in [source, *needed]:
            _require_world_readable(path)
        mounts.append(Mount(target, str(source.resolve()), type="bind", read_only=True))
    return mounts


def _require_world_readable(root: Path) -> None:
    """The sandbox user (uid 10001) reads mounts as "others": say so before a confusing crash."""
    if not root.exists():
        return  # a missing script or package is the script's own error, reported from inside
    for path in [root, *root.rglob("*")] if root.is_dir() else [root]:
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode) or "__pycache__" in path.parts:
            continue
        needed = stat.S_IROTH | (stat.S_IXOTH if stat.S_ISDIR(mode) else 0)
        if mode & needed != needed:
            raise SetupError(f"{path} is not readable by the sandbox user (uid 10001, as 'others'): "
                             f"run `chmod -R o+rX {root}` and grade again")


def _script_path(job: Job) -> str:
    script = PurePosixPath(job.script)
    if script.is_absolute() or ".." in script.parts:
        raise SetupError(f"script {job.script!r} must be a path inside the extras directory")
    return str(PurePosixPath("/extras") / script)


IMAGE_PYCACHE = "/opt/pycache"  # the Dockerfile compiles the stdlib and the venv here, read-only at run time


def _environment(job: Job) -> dict[str, str]:
    """Contracts §2 with the container's paths; the profile's own env still has the last word."""
    env = sandbox_env(job, Path("/work"), Path("/out"), Path("/data") if job.datasets else None,
                      pycache=Path(IMAGE_PYCACHE), in_dir=Path("/in"))
    env.update({"PATH": SANDBOX_PATH, "PYTHONPATH": "/submission", "TMPDIR": "/tmp"})
    env.update(dict(job.env))
    return env


class _OutputPump:
    """Drain an exec's multiplexed stream on a thread, keeping head and tail of stdout and stderr."""

    def __init__(self, stream, tap=None):
        self.stdout, self.stderr = CappedText(tap=tap), CappedText()
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream) -> None:
        try:
            for out, err in stream:
                if out:
                    self.stdout.feed(out)
                if err:
                    self.stderr.feed(err)
        except Exception:  # noqa: BLE001 - a broken stream ends the copy; the run's status says why
            pass

    def join(self, timeout: float) -> bool:
        """Wait for the end of the stream; False if something still holds the output open."""
        self._thread.join(timeout)
        return not self._thread.is_alive()


class DockerRunner:
    """Run jobs in containers of the grading image (``image`` or $HARNESS_IMAGE, else the tree's)."""

    name = "docker"

    def __init__(self, image: str | None = None):
        self._image_ref = image or os.environ.get("HARNESS_IMAGE") or None
        self.run_id = uuid.uuid4().hex
        self._client = None
        self._image = None
        self._engine_version = ""
        self._lock = threading.Lock()
        self._cancelled = threading.Event()

    # -- engine and image -------------------------------------------------------------------
    def _connect(self):
        """The docker client and the resolved image, made once; SetupError says what is missing."""
        import docker

        with self._lock:
            if self._client is not None and self._image is not None:
                return self._client, self._image
            try:
                client = docker.from_env(timeout=60, max_pool_size=32)
                self._engine_version = client.version().get("Version", "")
            except docker.errors.DockerException as exc:
                raise SetupError(f"no Docker engine reachable ({exc}): {NO_ENGINE_HELP}") from None
            try:
                self._image = self._resolve_image(client)
            except SetupError:
                client.close()
                raise
            self._client = client
            docker_cleanup.install_handlers()
            docker_cleanup.sweep_orphans(client)
            return self._client, self._image

    def _resolve_image(self, client):
        import docker

        from harness.runners.docker.image import ImageError, find_image

        if self._image_ref:
            try:
                return client.images.get(self._image_ref)
            except docker.errors.ImageNotFound:
                raise SetupError(f"grading image {self._image_ref!r} not found locally: build it with "
                                 "`harness image build` or pass an existing image") from None
        try:
            image = find_image(client)
        except ImageError as exc:
            raise SetupError(str(exc)) from None
        if image is None:
            raise SetupError("no grading image built from this tree: run `harness image build` "
                             "(offline: see docs/docker.md)")
        return image

    def available(self) -> tuple[bool, str]:
        try:
            _, image = self._connect()
        except SetupError as exc:
            return False, str(exc)
        return True, f"Docker engine {self._engine_version}, image {self._image_name(image)}"

    @staticmethod
    def _image_name(image) -> str:
        return image.tags[0] if image.tags else image.short_id

    def describe(self) -> dict:
        from harness.runners.docker.image import LABEL_LOCK

        info = {"backend": "docker", "isolation": "container: no network, read-only root, uid 10001, "
                "no capabilities, memory/cpu/pids limits"}
        if self._image is not None:
            info.update(image=self._image_name(self._image), image_id=self._image.id,
                        lock_hash=self._image.labels.get(LABEL_LOCK, ""), engine=self._engine_version)
        return info

    def cancel(self) -> None:
        """Stop every job now and start none after (the harness was interrupted): the live
        containers are removed, so each running ``run`` returns at once with an infra error."""
        self._cancelled.set()
        docker_cleanup.remove_all_live()

    # -- one job ----------------------------------------------------------------------------
    def run(self, job: Job) -> RunResult:
        result = RunResult(job_id=job.job_id, started_at=time.time())
        container_id = None
        client = None
        try:
            client, image = self._connect()
            result.backend = self.describe()
            container_id = self._create(client, image, job)
            if self._cancelled.is_set():  # also when cancel() came just before this container existed
                raise SetupError("not run: the harness was interrupted before this job started")
            client.api.start(container_id)
            self._execute(client, container_id, job, result)
        except SetupError as exc:
            result.infra_error = str(exc)
        except Exception as exc:  # noqa: BLE001 - docker/IO trouble is the harness's, never the student's
            result.infra_error = (f"stopped: the harness was interrupted while this job ran ({exc})"
                                  if self._cancelled.is_set() else
                                  f"docker backend failed while running {job.job_id}: {exc}")
        except BaseException:  # e.g. Ctrl-C on the calling thread: no result, so no /out copy either
            remove_dir(result.out_dir)
            raise
        finally:
            if container_id is not None:
                self._remove(client, container_id, result)
            result.finished_at = time.time()
        if result.infra_error and result.out_dir is not None:
            remove_dir(result.out_dir)
            result.out_dir = None
        return result

    def _create(self, client, image, job: Job) -> str:
        budget = job.budget
        memory = f"{budget.memory_mib}m"
        host_config = client.api.create_host_config(
            network_mode="none", read_only=True, cap_drop=["ALL"], security_opt=["no-new-privileges"],
            mem_limit=memory, memswap_limit=memory, nano_cpus=int(budget.cpus * 1e9),
            pids_limit=budget.pids, ipc_mode="private", shm_size=f"{min(64, budget.tmp_mib)}m",
            tmpfs={
                "/tmp": f"size={budget.tmp_mib}m,mode=1777",
                "/work": f"size={budget.tmp_mib}m,uid=10001,gid=10001,mode=0700",
                "/out": f"size={budget.out_mib}m,uid=10001,gid=10001,mode=0700",
            },
            mounts=_mounts(job), ulimits=[_ulimit("core", 0)], log_config={"type": "none"},
            auto_remove=True,
        )
        lifetime = budget.wall_seconds + _COLLECT_GRACE_SECONDS
        container = client.api.create_container(
            image.id, command=["python3", "-I", "-S", "-c", _IDLE_PID1, str(lifetime)],
            user=SANDBOX_USER, working_dir="/work", environment={"PATH": SANDBOX_PATH},
            network_disabled=True, hostname="sandbox", host_config=host_config,
            labels={**docker_cleanup.labels_for(self.run_id), "tinytorch-harness.job": job.job_id[:200]},
        )
        docker_cleanup.track(container["Id"], client)
        return container["Id"]

    def _execute(self, client, container_id: str, job: Job, result: RunResult) -> None:
        api = client.api
        since = time.time()
        exec_id = api.exec_create(
            container_id, ["python3", _script_path(job), *job.args], user=SANDBOX_USER,
            workdir="/work", environment=_environment(job),
        )["Id"]
        start = time.monotonic()
        phases = PhaseServer.for_job(job)
        pump = _OutputPump(api.exec_start(exec_id, stream=True, demux=True),
                           tap=phases.feed if phases else None)
        code = self._wait(api, exec_id, pump, start + job.budget.wall_seconds)
        result.wall_seconds = time.monotonic() - start
        if self._cancelled.is_set():  # the script died because cancel() removed its container
            raise SetupError("stopped: the harness was interrupted while this job ran")
        notes: list[str] = []
        if code is None:
            result.timed_out, result.signal = True, signal.SIGKILL
            self._read_stats(api, container_id, job, result)
            docker_cleanup.force_remove(client, container_id)  # everything dies; /out is not collected
        else:
            result.exit_code, result.signal = _exit_status(code)
            usage, finish_notes = self._finish(api, container_id, job, result)
            notes += finish_notes
            result.pids_limit_hit = usage.get("pids_refused", 0) > 0
            if result.signal is not None or result.exit_code != 0:
                result.oom_killed = self._was_oom_killed(client, container_id, since, usage, result.signal)
        if not pump.join(5.0):
            notes.append("the output stream did not close after the run ended")
        result.stdout = pump.stdout.text()
        result.stderr = pump.stderr.text() + "".join(f"\n[harness: {note}]" for note in notes)
        if phases is not None:
            phases.record_into(result)

    @staticmethod
    def _wait(api, exec_id: str, pump: _OutputPump, deadline: float) -> int | None:
        """The script's exit code, or None when the wall-clock budget ran out first."""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            stream_open = not pump.join(min(_POLL_SECONDS, remaining))
            info = api.exec_inspect(exec_id)
            if not info.get("Running"):
                return int(info.get("ExitCode") or 0)
            if not stream_open:
                time.sleep(min(0.02, max(0.0, deadline - time.monotonic())))

    @staticmethod
    def _read_stats(api, container_id: str, job: Job, result: RunResult) -> None:
        """CPU seconds, peak memory and a full process table from the engine's stats (slow; for
        runs that were killed)."""
        try:
            stats = api.stats(container_id, stream=False, one_shot=True)
        except Exception:  # noqa: BLE001 - usage is informative, never fatal
            return
        cpu_ns = stats.get("cpu_stats", {}).get("cpu_usage", {}).get("total_usage")
        if cpu_ns:
            result.cpu_seconds = cpu_ns / 1e9
        peak = stats.get("memory_stats", {}).get("max_usage")
        if peak:
            result.peak_rss_mib = peak / _MIB
        pids = stats.get("pids_stats", {})
        result.pids_limit_hit = pids.get("current", 0) >= (pids.get("limit") or job.budget.pids)

    def _finish(self, api, container_id: str, job: Job,
                result: RunResult) -> tuple[dict[str, int], list[str]]:
        """Run the finishing step; returns (usage, notes).

        When the step sends no tar (it could not start, or the script's leftovers killed it),
        PID 1 kills every process left and the step runs again.
        """
        failures = []
        for attempt in range(_FINISH_ATTEMPTS):
            if attempt:
                self._sweep(api, container_id)
            try:
                usage, notes = self._collect(api, container_id, job, result)
            except _FinishFailed as exc:
                failures.append(str(exc))
                continue
            return usage, notes
        raise SetupError(f"could not collect /out of {job.job_id}: the finishing step failed "
                         f"{_FINISH_ATTEMPTS} times ({'; '.join(failures)})")

    @staticmethod
    def _sweep(api, container_id: str) -> None:
        """Have PID 1 kill every other process (it needs no new process to do so), and wait until
        the engine lists it alone."""
        api.kill(container_id, signal="SIGUSR1")
        deadline = time.monotonic() + _SWEEP_SECONDS
        while len(api.top(container_id).get("Processes") or []) > 1 and time.monotonic() < deadline:
            time.sleep(0.05)

    @staticmethod
    def _collect(api, container_id: str, job: Job, result: RunResult) -> tuple[dict[str, int], list[str]]:
        """One run of the finishing step: kill leftovers, read the cgroup's usage, copy /out
        (capped); returns (usage, notes). _FinishFailed when it sent no whole tar stream."""
        cap = (job.budget.out_mib + 1) * _MIB + 512 * 1024
        try:
            exec_id = api.exec_create(container_id, ["sh", "-c", _FINISH], user=SANDBOX_USER)["Id"]
            stream = api.exec_start(exec_id, stream=True, demux=True)
        except Exception as exc:  # noqa: BLE001 - e.g. the engine could not start it; tried again
            raise _FinishFailed(str(exc)) from None
        errors = bytearray()

        def tar_chunks():
            for out, err in stream:
                if err and len(errors) < 16384:
                    errors.extend(err)
                if out:
                    yield out

        def said() -> str:
            return errors.decode("utf-8", errors="replace")

        out_dir = WATCHDOG.make_dir("harness-out-")  # removed by the watchdog if the harness dies first
        notes: list[str] = []
        try:
            notes += [f"/out: {note}" for note in extract_out(tar_chunks(), out_dir, cap)]
            code = _finished_exec_code(api, exec_id)
            if code is None or code > 128:  # tar was killed: what it sent may be cut at a block boundary
                raise NoTarStream(f"the finishing step was killed (exit code {code})")
        except OutProblem as exc:
            remove_dir(out_dir)
            result.out_problem = str(exc)
            notes.append(str(exc))
        except NoTarStream as exc:
            remove_dir(out_dir)
            raise _FinishFailed(f"{exc}; it said: {' '.join(said().split())[-300:] or 'nothing'}") from None
        except BaseException:
            remove_dir(out_dir)
            raise
        else:
            result.out_dir = out_dir
        finally:  # a stream left unread (over the cap) would hold up the container's removal for 20 s
            stream.close()
        usage, other = parse_usage(said())
        notes += [f"/out: {line[:200]}" for line in other]
        if "peak_bytes" in usage:
            result.peak_rss_mib = usage["peak_bytes"] / _MIB
        if "cpu_ns" in usage or "cpu_us" in usage:
            result.cpu_seconds = usage.get("cpu_ns", usage.get("cpu_us", 0) * 1000) / 1e9
        return usage, notes

    def _was_oom_killed(self, client, container_id: str, since: float, usage: dict[str, int],
                        sig: int | None) -> bool:
        """The kernel's count of OOM kills in this cgroup, else the engine's ``oom`` events."""
        if "oom_kill" in usage:
            return usage["oom_kill"] > 0
        patience = _OOM_EVENT_PATIENCE_SECONDS if sig == signal.SIGKILL else 0.0
        return self._oom_event(client, container_id, since, patience)

    @staticmethod
    def _oom_event(client, container_id: str, since: float, patience: float) -> bool:
        """Whether the engine saw the kernel's OOM killer act in this container.

        The engine records the event asynchronously, so a SIGKILL death waits up to ``patience``.
        """
        deadline = time.monotonic() + patience
        while True:
            events = client.api.events(since=f"{since - 1:.9f}", until=f"{time.time():.9f}",
                                       filters={"container": container_id, "event": "oom"}, decode=True)
            try:
                if any(True for _ in events):
                    return True
            finally:
                events.close()
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.1)

    @staticmethod
    def _remove(client, container_id: str, result: RunResult) -> None:
        try:
            docker_cleanup.force_remove(client, container_id)
        except Exception as exc:  # noqa: BLE001
            note = f"container {container_id[:12]} could not be removed: {exc}"
            result.infra_error = result.infra_error or note
        finally:
            docker_cleanup.untrack(container_id)


def _finished_exec_code(api, exec_id: str) -> int | None:
    """The exit code of an exec whose output has ended (the engine may take a moment to say)."""
    deadline = time.monotonic() + 5.0
    while True:
        info = api.exec_inspect(exec_id)
        if not info.get("Running") or time.monotonic() > deadline:
            return None if info.get("Running") else info.get("ExitCode")
        time.sleep(0.01)


def _ulimit(name: str, value: int):
    from docker.types import Ulimit

    return Ulimit(name=name, soft=value, hard=value)
