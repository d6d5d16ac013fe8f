"""Each sandbox property, observed from INSIDE a container of the grading image."""

from __future__ import annotations

import signal

import pytest

from harness.runners.base import Budget
from tests.docker.probe import run_probe, seen
from tests.docker_support import containers_of

pytestmark = pytest.mark.docker


@pytest.fixture
def probe(docker_runner, run_results):
    """``run_probe`` on this test's runner; each result's /out copy is removed after the test."""
    return lambda *args, **kwargs: run_results(run_probe(docker_runner, *args, **kwargs))


def test_identity_environment_and_mounts(docker_runner, probe, tmp_path):
    data = tmp_path / "mnist_view"
    data.mkdir()
    (data / "x_train.npy").write_bytes(b"fake")
    (tmp_path / "submission").mkdir()
    (tmp_path / "submission" / "private_notes.txt").write_text("not for the sandbox")
    result = probe(tmp_path, """
        import json, os, sys
        import tinytorch
        print(json.dumps({
            "uid": os.getuid(), "gid": os.getgid(), "euid": os.geteuid(), "cwd": os.getcwd(),
            "answer": tinytorch.ANSWER, "argv": sys.argv[1:],
            "env": {k: os.environ.get(k) for k in ("HARNESS_OUT", "HARNESS_DATA_DIR", "PYTHONPATH",
                    "HARNESS_SEED", "HARNESS_PROFILE", "OMP_NUM_THREADS", "PYTHONHASHSEED", "HOME")},
            "data": sorted(os.listdir("/data/mnist")), "submission": os.listdir("/submission"),
        }))
    """, datasets=(("mnist", data),), args=("--quick",))
    assert result.exit_code == 0, result.stderr
    probe = seen(result)
    assert (probe["uid"], probe["gid"], probe["euid"]) == (10001, 10001, 10001)
    assert probe["cwd"] == "/work" and probe["answer"] == 42 and probe["argv"] == ["--quick"]
    assert probe["env"] == {"HARNESS_OUT": "/out", "HARNESS_DATA_DIR": "/data", "PYTHONPATH": "/submission",
                            "HARNESS_SEED": "1337", "HARNESS_PROFILE": "full", "OMP_NUM_THREADS": "1",
                            "PYTHONHASHSEED": "0", "HOME": "/work"}
    assert probe["data"] == ["x_train.npy"]
    assert probe["submission"] == ["tinytorch"]  # only the package is mounted, not its folder
    assert result.backend["backend"] == "docker" and result.backend["image_id"].startswith("sha256:")


def test_no_network(docker_runner, probe, tmp_path):
    result = probe(tmp_path, """
        import json, socket
        outcome = {}
        for host, port in (("1.1.1.1", 53), ("172.17.0.1", 2375), ("127.0.0.1", 9)):
            try:
                socket.create_connection((host, port), timeout=2).close()
                outcome[host] = "connected"
            except OSError as exc:
                outcome[host] = exc.errno
        try:
            socket.getaddrinfo("pypi.org", 443)
            outcome["dns"] = "resolved"
        except OSError:
            outcome["dns"] = "failed"
        interfaces = [line.split(":")[0].strip() for line in open("/proc/net/dev").read().splitlines()[2:]]
        print(json.dumps({"outcome": outcome, "interfaces": interfaces}))
    """)
    probe = seen(result)
    errno_unreachable, errno_refused = 101, 111
    assert probe["outcome"] == {"1.1.1.1": errno_unreachable, "172.17.0.1": errno_unreachable,
                                "127.0.0.1": errno_refused, "dns": "failed"}
    assert probe["interfaces"] == ["lo"]


def test_read_only_root_and_writable_scratch(docker_runner, probe, tmp_path):
    result = probe(tmp_path, """
        import json, os
        outcome = {}
        for path in ("/etc/evil", "/opt/venv/evil", "/usr/evil", "/extras/evil", "/submission/evil",
                     "/submission/tinytorch/__init__.py", "/tmp/ok", "/work/ok", "/out/ok"):
            try:
                with open(path, "a") as handle:
                    handle.write("x")
                outcome[path] = "written"
            except OSError as exc:
                outcome[path] = exc.errno
        print(json.dumps(outcome))
    """)
    erofs = 30
    assert seen(result) == {"/etc/evil": erofs, "/opt/venv/evil": erofs, "/usr/evil": erofs,
                            "/extras/evil": erofs, "/submission/evil": erofs,
                            "/submission/tinytorch/__init__.py": erofs,
                            "/tmp/ok": "written", "/work/ok": "written", "/out/ok": "written"}
    assert (result.out_dir / "ok").read_text() == "x"


def test_no_capabilities_and_no_new_privileges(docker_runner, probe, tmp_path):
    result = probe(tmp_path, """
        import json
        status = dict(line.split(":\\t", 1) for line in open("/proc/self/status").read().splitlines()
                      if ":\\t" in line)
        print(json.dumps({k: status[k].strip() for k in ("CapEff", "CapPrm", "CapBnd", "NoNewPrivs")}))
    """)
    assert seen(result) == {"CapEff": "0000000000000000", "CapPrm": "0000000000000000",
                            "CapBnd": "0000000000000000", "NoNewPrivs": "1"}


def test_pids_limit(docker_runner, probe, tmp_path):
    result = probe(tmp_path, """
        import json, os, time
        children, error = [], None
        for _ in range(200):
            try:
                pid = os.fork()
            except OSError as exc:
                error = exc.errno
                break
            if pid == 0:
                time.sleep(30)
                os._exit(0)
            children.append(pid)
        print(json.dumps({"started": len(children), "errno": error}))
    """, budget=Budget(wall_seconds=30, pids=16))
    probe = seen(result)
    assert probe["errno"] == 11  # EAGAIN from the pids cgroup
    assert 8 <= probe["started"] < 16
    assert result.exit_code == 0 and not result.timed_out  # the sleeping children were killed, not waited for
    assert result.pids_limit_hit  # the cgroup counted the refused fork


FORK_BOMB_THEN_EXIT = """
    import os
    with open("/out/early.txt", "w") as handle:
        handle.write("written before the bomb")
    if os.fork() == 0:  # the child forks for ever; every freed process slot is taken again at once
        while True:
            try:
                os.fork()
            except OSError:
                pass
    print("parent exits 0")
"""
LEFTOVER_KILLER = """
    import os, signal
    with open("/out/early.txt", "w") as handle:
        handle.write("written before the killer")
    if os.fork() == 0:  # outlives the script and kills every process of the sandbox user it can
        os.setsid()
        while True:
            try:
                os.kill(-1, signal.SIGKILL)
            except OSError:
                pass
"""


@pytest.mark.parametrize("script", [FORK_BOMB_THEN_EXIT, LEFTOVER_KILLER], ids=["fork-bomb", "killer"])
def test_leftovers_cannot_stop_the_collection_of_out(docker_runner, probe, tmp_path, script):
    # A full process table, or leftovers killing every process of the sandbox user (the
    # finishing step too), once left /out uncollected: "not written (no output directory)".
    result = probe(tmp_path, script, budget=Budget(wall_seconds=30, pids=16))
    assert result.infra_error is None and not result.timed_out, result.stderr
    assert (result.out_dir / "early.txt").read_text().startswith("written before the")
    assert result.pids_limit_hit == (script == FORK_BOMB_THEN_EXIT)
    after = probe(tmp_path / "after", "print('fine')\n", budget=Budget(wall_seconds=30, pids=16))
    assert (after.exit_code, after.stdout, after.pids_limit_hit) == (0, "fine\n", False)
    assert containers_of(docker_runner.run_id) == []


def test_memory_limit_is_out_of_memory(docker_runner, probe, tmp_path):
    result = probe(tmp_path, """
        blocks = []
        while True:
            blocks.append(bytearray(b"\\x01") * (16 * 1024 * 1024))
    """, budget=Budget(wall_seconds=60, memory_mib=128))
    assert result.oom_killed, (result.exit_code, result.signal, result.stderr)
    assert result.signal == signal.SIGKILL and result.exit_code is None and not result.timed_out
    assert result.peak_rss_mib is not None and 100 <= result.peak_rss_mib <= 129


def test_out_size_cap(docker_runner, probe, tmp_path):
    result = probe(tmp_path, """
        import json
        written, error = 0, None
        with open("/out/big.bin", "wb") as handle:
            try:
                while written < 64 * 1024 * 1024:
                    handle.write(b"\\x00" * 65536)
                    handle.flush()
                    written += 65536
            except OSError as exc:
                error = exc.errno
        print(json.dumps({"written": written, "errno": error}))
    """, budget=Budget(wall_seconds=30, out_mib=2))
    probe = seen(result)
    assert probe["errno"] == 28 and probe["written"] <= 2 * 1024 * 1024
    assert (result.out_dir / "big.bin").stat().st_size <= 2 * 1024 * 1024


def test_out_copy_skips_links_and_keeps_files(docker_runner, probe, tmp_path):
    result = probe(tmp_path, """
        import os
        os.makedirs("/out/nested")
        open("/out/nested/metrics.jsonl", "w").write("{}\\n")
        os.symlink("/etc/passwd", "/out/passwd")
        os.symlink("/extras", "/out/extras")
    """)
    assert result.exit_code == 0, result.stderr
    copied = sorted(str(p.relative_to(result.out_dir)) for p in result.out_dir.rglob("*"))
    assert copied == ["nested", "nested/metrics.jsonl"]
    assert "skipped 'passwd': a symlink" in result.stderr and "skipped 'extras': a symlink" in result.stderr


def test_wall_clock_kill_and_exit_statuses(docker_runner, probe, tmp_path):
    slow = probe(tmp_path, "import time\ntime.sleep(100)\n",
                     budget=Budget(wall_seconds=2))
    assert slow.timed_out and slow.signal == signal.SIGKILL and slow.out_dir is None
    assert 2.0 <= slow.wall_seconds < 3.5
    failing = probe(tmp_path / "b", "import sys\nprint('bye')\nsys.exit(3)\n")
    assert (failing.exit_code, failing.signal, failing.stdout) == (3, None, "bye\n")
    segv = probe(tmp_path / "c", "import ctypes\nctypes.string_at(0)\n")
    assert (segv.exit_code, segv.signal, segv.oom_killed) == (None, signal.SIGSEGV, False)


def test_output_flood_is_capped(docker_runner, probe, tmp_path):
    result = probe(tmp_path, """
        import sys
        chunk = "y" * 1023 + "\\n"
        for _ in range(20 * 1024):
            sys.stdout.write(chunk)
        print("THE END")
    """)
    assert result.exit_code == 0
    assert len(result.stdout) < 200_000 and result.stdout.endswith("THE END\n")
    assert "bytes of output omitted by the harness" in result.stdout


def test_every_container_is_removed(docker_runner, probe, tmp_path):
    probe(tmp_path, "print('hi')\n")
    probe(tmp_path / "b", "import time\ntime.sleep(9)\n", budget=Budget(wall_seconds=1))
    assert containers_of(docker_runner.run_id) == []


def test_unreadable_submission_is_an_infrastructure_error_with_the_fix(docker_runner, probe, tmp_path):
    secret = tmp_path / "submission" / "tinytorch" / "core.py"
    secret.parent.mkdir(parents=True)
    secret.write_text("X = 1\n")
    secret.chmod(0o600)
    result = probe(tmp_path, "import tinytorch\n")
    assert result.exit_code is None and result.out_dir is None
    assert result.infra_error == (f"{secret} is not readable by the sandbox user (uid 10001, as 'others'): "
                                  f"run `chmod -R o+rX {secret.parent}` and grade again")
    assert containers_of(docker_runner.run_id) == []


def test_sparse_file_cannot_smuggle_a_huge_out(docker_runner, probe, tmp_path):
    result = probe(tmp_path, """
        with open("/out/huge.bin", "wb") as handle:
            handle.truncate(50 * 1024 ** 3)  # 50 GiB apparent size, no blocks: fits the tmpfs cap
    """, budget=Budget(wall_seconds=30, out_mib=2))
    assert result.exit_code == 0 and result.out_dir is None
    assert result.out_problem == "/out is larger than its 3.5 MiB cap; not copied: write less to it"
    assert result.stderr.endswith(f"[harness: {result.out_problem}]")
    assert result.finished_at - result.started_at < 10  # the unread rest once held up the removal 20 s
    assert containers_of(docker_runner.run_id) == []
