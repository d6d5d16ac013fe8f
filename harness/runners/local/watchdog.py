"""Nothing of a job outlives the harness: a watchdog process that cleans up after it, however it dies.

One small process per harness process (its own session, so Ctrl-C does not reach it), started
with the first registration. The harness tells it, on a pipe only the harness holds (never
inherited by jobs), each job's process group and the host directories a job uses (the local
backend's work and ``/out`` directories, the docker backend's copy of ``/out``). End of file on
that pipe means the harness has exited, however it died (SIGKILL too): the watchdog then kills
every group still listed and every process whose working directory is in a listed directory, and
removes every directory still listed.

No instant of the harness's death escapes it: directories are listed before they are created
(``make_dir``), and a job starts with its listed work directory as its working directory, so a
job whose process group was not yet listed is found by that directory.

Groups are forgotten when they are gone. A directory is forgotten when the runner removes it;
an ``/out`` copy is removed by the caller of ``run`` (``RunResult.out_dir``), which does not
tell the watchdog, so those are forgotten once they no longer exist (checked now and then). A
listed directory that is already gone costs the watchdog nothing at exit.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from harness.judging import outfiles

_OUTFILES = outfiles.__file__

# Each line is a JSON pair: ["+g", pgid] / ["-g", pgid] for groups, ["+d", path] / ["-d", path] for dirs.
_SOURCE = """
import importlib.util, json, os, signal, sys, time
spec = importlib.util.spec_from_file_location("harness_outfiles", sys.argv[1])  # stdlib-only module
outfiles = importlib.util.module_from_spec(spec)
spec.loader.exec_module(outfiles)
groups, paths = set(), set()
ops = {"+g": groups.add, "-g": groups.discard, "+d": paths.add, "-d": paths.discard}
for line in sys.stdin:
    try:
        op, value = json.loads(line)
        ops[op](value)
    except (ValueError, KeyError, TypeError):
        continue

def strays():
    # Processes working in a listed directory: a job started just before the harness died,
    # before its process group could be listed (jobs start with their work dir as cwd).
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) != os.getpid():
            try:
                cwd = os.readlink("/proc/" + name + "/cwd")
            except OSError:
                continue
            if any(cwd == path or cwd.startswith(path + "/") for path in paths):
                found.append(int(name))
    return found

deadline = time.monotonic() + 2.0
while True:
    for pgid in list(groups):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except OSError:
            groups.discard(pgid)
    left = strays()
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    if not (groups or left) or time.monotonic() > deadline:
        break
    time.sleep(0.02)
for attempt in range(3):
    for path in paths:
        outfiles.remove_tree(path)  # however deep or locked the tree a job left
    paths = {path for path in paths if os.path.lexists(path)}
    if not paths:
        break
    time.sleep(0.2)
"""

_PRUNE_FLOOR = 256  # forget vanished directories once this many (then twice as many as kept) are listed


class Watchdog:
    """Keeps the watchdog process told what to clean up; restarts it if it died (best effort:
    without one, jobs still die at their budget and directories are removed while the harness lives)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._fd: int | None = None
        self._groups: set[int] = set()
        self._paths: set[str] = set()
        self._prune_at = _PRUNE_FLOOR

    def add_group(self, pgid: int) -> None:
        with self._lock:
            self._groups.add(pgid)
            self._send([("+g", pgid)])

    def discard_group(self, pgid: int) -> None:
        with self._lock:
            self._groups.discard(pgid)
            self._send([("-g", pgid)])

    def make_dir(self, prefix: str, parent: Path | None = None) -> Path:
        """A new private directory (as ``mkdtemp``), listed with the watchdog before it exists:
        whenever the harness dies, no directory it made is unknown to the watchdog."""
        parent = Path(parent or tempfile.gettempdir())
        with self._lock:
            while True:
                path = parent / f"{prefix}{secrets.token_hex(8)}"
                self._list(str(path))
                try:
                    path.mkdir(mode=0o700)
                    return path
                except BaseException as exc:  # not made, or another's (a 64-bit collision): not ours
                    self._paths.discard(str(path))
                    self._send([("-d", str(path))])
                    if not isinstance(exc, FileExistsError):
                        raise

    def _list(self, path: str) -> None:
        lines = [("+d", path)]
        self._paths.add(path)
        if len(self._paths) >= self._prune_at:
            gone = [p for p in self._paths if p != path and not os.path.lexists(p)]
            self._paths.difference_update(gone)
            lines += [("-d", p) for p in gone]
            self._prune_at = max(_PRUNE_FLOOR, 2 * len(self._paths))
        self._send(lines)

    def discard_dir(self, path: Path) -> None:
        with self._lock:
            self._paths.discard(str(path))
            self._send([("-d", str(path))])

    def close(self, wait_seconds: float = 10.0) -> None:
        """Let the watchdog act now, as if the harness had died: it kills the groups and removes
        the directories still listed, then exits (for tests; the harness simply exits)."""
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
            proc, self._fd, self._proc = self._proc, None, None
            self._groups.clear()
            self._paths.clear()
        if proc is not None:
            proc.wait(wait_seconds)

    def listed(self) -> tuple[set[int], set[str]]:
        """The groups and directories the watchdog would clean up now (for tests)."""
        with self._lock:
            return set(self._groups), set(self._paths)

    def _send(self, lines) -> None:
        if self._proc is None or self._proc.poll() is not None or not self._write(lines):
            self._start()  # tells the new watchdog everything listed, these lines included

    def _write(self, lines) -> bool:
        try:
            os.write(self._fd, "".join(json.dumps(line) + "\n" for line in lines).encode())
        except OSError:  # the watchdog is gone (EPIPE): start another
            return False
        return True

    def _start(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd, self._proc = None, None
        read_end, write_end = os.pipe()  # not inheritable: only this process holds the write end
        try:
            self._proc = subprocess.Popen([sys.executable, "-I", "-S", "-c", _SOURCE, _OUTFILES],
                                          stdin=read_end, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL, start_new_session=True)
        except OSError:
            os.close(write_end)
            return
        finally:
            os.close(read_end)
        self._fd = write_end
        self._write([("+g", pgid) for pgid in self._groups] + [("+d", path) for path in self._paths])


WATCHDOG = Watchdog()


def remove_dir(path: Path | None) -> None:
    """Remove a directory the watchdog was told about, and tell it that it is gone."""
    if path is not None:
        outfiles.remove_tree(path)
        WATCHDOG.discard_dir(path)
