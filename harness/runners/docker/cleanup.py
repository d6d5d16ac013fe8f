"""No leaked containers: every sandbox this process starts is removed, even on Ctrl-C or SIGTERM.

Containers carry labels naming the run, the host and the harness process. Live ones are tracked
here; SIGINT/SIGTERM and interpreter exit remove them at once (which also ends the jobs that were
waiting on them), and a new runner sweeps away containers left by harness processes that died
without cleaning up (e.g. SIGKILL). Each sandbox's PID 1 also exits on its own after its budget,
and containers are created with auto-remove, so even a crash of the host-side process is bounded.
"""

from __future__ import annotations

import atexit
import os
import signal
import socket
import threading
import time

LABEL_RUN = "tinytorch-harness.run"
LABEL_HOST = "tinytorch-harness.host"
LABEL_PID = "tinytorch-harness.pid"

_lock = threading.Lock()
_live: dict[str, object] = {}  # container id -> docker client that made it
_installed = False


def labels_for(run_id: str) -> dict[str, str]:
    return {LABEL_RUN: run_id, LABEL_HOST: socket.gethostname(), LABEL_PID: str(os.getpid())}


def track(container_id: str, client) -> None:
    with _lock:
        _live[container_id] = client


def untrack(container_id: str) -> None:
    with _lock:
        _live.pop(container_id, None)


def force_remove(client, container_id: str, wait_seconds: float = 10.0) -> None:
    """Kill and remove, and return once it is gone (auto-remove may already be removing it)."""
    import docker.errors

    try:
        client.api.remove_container(container_id, force=True)
        return
    except docker.errors.NotFound:
        return
    except docker.errors.APIError as exc:
        if exc.status_code != 409:  # 409: removal already in progress (auto-remove)
            raise
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        try:
            client.api.inspect_container(container_id)
        except docker.errors.NotFound:
            return
        time.sleep(0.05)
    raise TimeoutError(f"container {container_id[:12]} was still being removed after {wait_seconds:g} s")


def remove_all_live() -> None:
    """Remove every container this process still has; never raises."""
    with _lock:
        items = list(_live.items())
    for container_id, client in items:
        try:
            force_remove(client, container_id)
        except Exception:  # noqa: BLE001 - cleanup must go on for the others
            pass


def _handler(previous):
    def on_signal(signum, frame):
        remove_all_live()
        if callable(previous):
            previous(signum, frame)
        elif previous == signal.SIG_IGN:
            return
        else:  # SIG_DFL: die of the same signal, as the user asked
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

    return on_signal


def install_handlers() -> None:
    """Once per process: remove live containers on SIGINT, SIGTERM and exit (main thread only)."""
    global _installed
    with _lock:
        if _installed:
            return
        _installed = True
    atexit.register(remove_all_live)
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _handler(signal.getsignal(signum)))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_orphans(client) -> int:
    """Remove containers of this host whose harness process is gone; returns how many."""
    removed = 0
    host = socket.gethostname()
    for info in client.api.containers(all=True, filters={"label": f"{LABEL_HOST}={host}"}):
        pid = info.get("Labels", {}).get(LABEL_PID, "")
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            force_remove(client, info["Id"])
            removed += 1
    return removed
