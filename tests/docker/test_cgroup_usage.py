"""The finishing step's cgroup measurement and refused-fork count on both layouts, run by ``sh``
on fake cgroup trees (the v2 layout cannot be met with this machine's engine, which uses cgroup v1)."""

from __future__ import annotations

import subprocess
import time

import pytest

from harness.runners.docker.runner import MEASURE_CGROUP, parse_usage

V1 = {
    "memory/memory.max_usage_in_bytes": "73400320\n",
    "memory/memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
    "cpu,cpuacct/cpuacct.usage": "1500000000\n",
    "pids/pids.events": "max 7\n",
    "pids/pids.current": "2\n",
}
V2 = {
    "memory.peak": "52428800\n",
    "memory.events": "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\noom_group_kill 0\n",
    "cpu.stat": "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n",
    "pids.events": "max 0\n",
    "pids.current": "1\n",
}


def measure(root, files: dict[str, str]) -> tuple[dict[str, int], list[str]]:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    shell = subprocess.run(["sh", "-c", MEASURE_CGROUP + 'refused "$1"; settle "$1"; measure "$1"', "sh",
                            str(root)], capture_output=True, text=True, timeout=30)
    return parse_usage(shell.stdout + shell.stderr)


@pytest.mark.parametrize(("files", "expected"), [
    (V1, {"peak_bytes": 73400320, "cpu_ns": 1500000000, "oom_kill": 2, "pids_refused": 7}),
    (V2, {"peak_bytes": 52428800, "cpu_us": 2500000, "oom_kill": 1, "pids_refused": 0}),
], ids=["v1", "v2"])
def test_both_cgroup_layouts_are_measured(tmp_path, files, expected):
    assert measure(tmp_path, files) == (expected, [])


def test_a_v2_kernel_without_memory_peak_or_pids_files_leaves_just_those_out(tmp_path):
    files = {name: text for name, text in V2.items() if not name.startswith(("memory.peak", "pids."))}
    assert measure(tmp_path, files) == ({"cpu_us": 2500000, "oom_kill": 1}, [])


def test_other_lines_are_kept_apart_from_usage():
    usage, other = parse_usage("usage oom_kill 0\ntar: ./x: Permission denied\nusage peak_bytes \n\n")
    assert usage == {"oom_kill": 0} and other == ["tar: ./x: Permission denied"]


def test_settle_gives_up_on_a_cgroup_that_never_empties(tmp_path):
    started = time.monotonic()
    assert measure(tmp_path, {**V2, "pids.current": "64\n"})[0]["pids_refused"] == 0
    assert time.monotonic() - started < 20  # a bounded wait, then the step goes on
