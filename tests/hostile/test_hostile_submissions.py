"""Hostile tinytorch packages, graded by the real engine with the docker backend.

For each attack: the exact verdict and reason, a well-behaved neighbour in the same parallel run
still passes, no container is left, and nothing outside /out changed (mounted trees hashed).
"""

from __future__ import annotations

import resource
import textwrap
import uuid

import pytest

from tests.docker_support import containers_of
from tests.hostile.project import GOOD_PACKAGE, MEMORY_MIB, WALL_SECONDS, HostileProject

pytestmark = pytest.mark.docker

SECRET = f"s3cret-{uuid.uuid4().hex}"
TIMEOUT = ("timeout", f"killed after {WALL_SECONDS} s budget")
THEN_BEHAVES = ("passed", "the check passed")  # the attack, then a correct answer()
PROCESS_LIMIT = ("crashed", "process limit reached: the script and what it started filled the limit of 32 "
                            "processes and threads (a fork bomb?); start fewer of them")

CASES = {
    "01-infinite-loop": ("while True:\n    pass\n", TIMEOUT),
    "02-memory-hog": ("""
        blocks = []
        while True:
            blocks.append(bytearray(b"\\x01") * (32 * 1024 * 1024))
        """, ("out_of_memory", f"exceeded {MEMORY_MIB} MiB")),
    "03-fork-bomb": ("""
        import os
        while True:
            try:
                os.fork()
            except OSError:
                pass
        """, PROCESS_LIMIT),
    "04-network": ("""
        import socket
        socket.create_connection(("1.1.1.1", 443), timeout=3)
        """, ("crashed", "exit code 1: OSError: [Errno 101] Network is unreachable")),
    "05-write-mounts": ("""
        import os
        targets = ["/extras/answer.py", "/extras/_harness/metrics.py", "/extras/new.py",
                   "/data/fakedata/x_test.npy", "/submission/tinytorch/__init__.py", "/submission/evil.py"]
        refused = []
        for path in targets:
            try:
                with open(path, "a") as handle:
                    handle.write("# pwned\\n")
            except OSError as exc:
                refused.append(exc.errno)
        raise SystemExit(f"writes refused with errno {sorted(set(refused))} for {len(refused)} of 6 paths")
        """, ("crashed", "exit code 1: writes refused with errno [30] for 6 of 6 paths")),
    "06-forged-metrics": ("""
        import json, os
        with open(os.path.join(os.environ["HARNESS_OUT"], "metrics.jsonl"), "a") as handle:
            handle.write(json.dumps({"kind": "scalar", "name": "answer", "value": 42}) + "\\n")
        print("SUCCESS: all checks passed, answer = 42, full marks")
        def answer():
            return 41
        """, ("failed", "metric answer reported 2 times; report each metric once")),
    "07-stdout-flood": ("""
        import sys
        block = "A" * (1024 * 1024 - 1) + "\\n"
        for _ in range(100):
            sys.stdout.write(block)
        sys.stdout.flush()
        """, THEN_BEHAVES),
    "08-fill-tmp": ("""
        chunk = b"\\0" * (1024 * 1024)
        with open("/tmp/fill.bin", "wb") as handle:
            for _ in range(1024):
                handle.write(chunk)
                handle.flush()
        """, ("crashed", "exit code 1: OSError: [Errno 28] No space left on device")),
    "09-signal-parent": ("""
        import os, signal
        for pid in {os.getppid(), 1, -1} - {0, os.getpid()}:
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGKILL):
                try:
                    os.kill(pid, sig)
                except OSError:
                    pass
        """, THEN_BEHAVES),
    "10-secrets": ("""
        import glob, os
        found = dict(os.environ)
        for path in glob.glob("/proc/[0-9]*/environ"):
            try:
                found[path] = open(path, "rb").read().decode(errors="replace")
            except OSError:
                pass
        print("ENV-DUMP", found)
        print("docker.sock present:", os.path.exists("/var/run/docker.sock"))
        """, THEN_BEHAVES),
    "11-segfault": ("import ctypes\nctypes.string_at(0)\n",
                    ("crashed", "killed by SIGSEGV: no error output")),
    "12-invalid-utf8": ("""
        import sys
        sys.stdout.buffer.write(b"bad \\xff\\xfe\\xc3\\x28 bytes\\n")
        sys.stdout.flush()
        sys.stderr.buffer.write(b"\\x80\\x81 also bad\\n")
        sys.stderr.flush()
        """, THEN_BEHAVES),
    "13-sleep-with-child": ("""
        import subprocess, time
        child = subprocess.Popen(["sleep", "1000"])
        time.sleep(1000)
        """, TIMEOUT),
    "14-fork-bomb-left-behind": ("""
        import os
        if os.fork() == 0:
            while True:
                try:
                    os.fork()
                except OSError:
                    pass
        """, PROCESS_LIMIT),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_submission(case, docker_runner, tmp_path, monkeypatch):
    attack, (verdict, reason) = CASES[case]
    behaves_after = (verdict, reason) == THEN_BEHAVES or case == "14-fork-bomb-left-behind"
    wall = 30 if case == "07-stdout-flood" else WALL_SECONDS  # 100 MB through the engine takes a while
    package = textwrap.dedent(attack) + (GOOD_PACKAGE if behaves_after else "")
    project = HostileProject(tmp_path, package, wall)
    monkeypatch.setattr("harness.datasets.sandbox_view", lambda name: project.data)
    monkeypatch.setenv("HOSTILE_SUITE_SECRET", SECRET)
    before = project.digests()
    host_rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    results = project.grade(docker_runner)

    hostile, good = results["hostile"], results["good"]
    assert (hostile.verdict, hostile.reason) == (verdict, reason), hostile.run
    assert (good.verdict, good.reason) == ("passed", "the check passed"), good.run
    assert containers_of(docker_runner.run_id) == []
    assert project.digests() == before
    assert SECRET not in hostile.run.stdout_tail + hostile.run.stderr_tail
    host_growth_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - host_rss_before) / 1024
    assert host_growth_mib < 64, f"the harness process grew by {host_growth_mib:.0f} MiB"
    _case_specific(case, hostile)


def _case_specific(case: str, hostile) -> None:
    run = hostile.run
    if case == "02-memory-hog":
        assert run.oom_killed and run.signal == 9
    elif case == "06-forged-metrics":
        assert "SUCCESS" in run.stdout_tail and hostile.score == 0.0
    elif case == "07-stdout-flood":
        assert len(run.stdout_tail) <= 4000 and run.stdout_tail.endswith("extra finished\n")
    elif case == "10-secrets":
        assert "ENV-DUMP" in run.stdout_tail and "docker.sock present: False" in run.stdout_tail
    elif case == "12-invalid-utf8":
        assert "bad \ufffd\ufffd\ufffd( bytes" in run.stdout_tail
        assert "\ufffd\ufffd also bad" in run.stderr_tail
    elif case in ("01-infinite-loop", "03-fork-bomb", "13-sleep-with-child"):
        assert run.timed_out and WALL_SECONDS <= run.wall_seconds < WALL_SECONDS + 2
    elif case == "14-fork-bomb-left-behind":  # the script itself answered and exited 0
        assert run.exit_code == 0 and not run.timed_out and run.infra_error is None
