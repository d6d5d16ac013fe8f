"""``harness grade --dask-scheduler``: the fake class graded on a real Dask cluster of processes.

A real ``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1 (ports chosen by the
scheduler, found through its scheduler file), each worker allowing the local backend. The fake class
of ``tests/grade/fakeclass.py`` is graded through them while one worker is killed mid-job, and the
gradebook must equal the thread pool's, with every result recorded exactly once; a scheduler killed
mid-batch ends it with exit 3 and a cache that the next run reuses.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from harness.cli import main
from harness.executors.transfer import TreeTooLarge, pack_tree, unpack_tree
from harness.provenance import tree_hash
from harness.result_cache import ResultCache
from tests.grade import fakeclass
from tests.grade.fakeclass import EXPECTED, make_class, marker_lines
from tests.grade.test_batch import ALL_PAIRS, _kill_orphans, gradebook
from tests.polling import wait_until

REPO = Path(__file__).resolve().parents[2]


def _die_with_parent() -> None:
    """In the child: SIGKILL when the test process dies (a killed pytest leaves no cluster behind)."""
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class Cluster:
    """A scheduler and ``workers`` worker processes; ``kill`` any of them; ``close`` ends them all."""

    def __init__(self, root: Path, workers: int = 2, resources: str = "CPU=2,MEMORY=4e9",
                 backends: str = "local"):
        root.mkdir(parents=True, exist_ok=True)
        self.root = root
        self.file = root / "scheduler.json"
        self.env = {**os.environ, "PYTHONPATH": str(REPO), "HARNESS_WORKER_BACKENDS": backends}
        self.scheduler = self._start(["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                      "--scheduler-file", str(self.file)], "scheduler")
        self.workers: list[subprocess.Popen] = []
        try:
            assert wait_until(lambda: self.file.exists() and self.file.stat().st_size > 0, 30), "no scheduler"
            self.address = json.loads(self.file.read_text())["address"]
            for i in range(workers):
                env = {"HARNESS_WORKER_DIR": str(root / f"worker-{i}")}
                self.workers.append(self._start(
                    ["worker", self.address, "--no-nanny", "--nthreads", "2", "--resources", resources,
                     "--no-dashboard", "--name", f"w{i}", "--death-timeout", "20"], f"worker-{i}", env))
            from distributed import Client

            with Client(self.address, timeout=30) as client:
                client.wait_for_workers(workers, timeout=60)
        except BaseException:
            self.close()
            raise

    def _start(self, args: list[str], name: str, env: dict | None = None) -> subprocess.Popen:
        log = open(self.root / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_" + args[0], *args[1:]],
                                env={**self.env, **(env or {})}, stdout=log, stderr=subprocess.STDOUT,
                                preexec_fn=_die_with_parent)
        log.close()
        return proc

    def kill(self, proc: subprocess.Popen) -> None:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    def close(self) -> None:
        for proc in [*self.workers, self.scheduler]:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)

    def log(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-3000:] for p in sorted(self.root.glob("*.log")))


@pytest.fixture
def fake_class(tmp_path):
    paths = make_class(tmp_path / "class")
    yield paths
    _kill_orphans(paths["marker"].parent)


@pytest.fixture
def cluster(tmp_path):
    running = Cluster(tmp_path / "cluster")
    yield running
    running.close()


def _running_jobs(marker: Path, student: str) -> list[tuple[str, set[int]]]:
    """(extra, pids of the process and all its ancestors) of each running fake extra of ``student``."""
    jobs = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"FAKE_MARKER={marker}".encode() not in environ or f"/{student}:".encode() not in environ:
            continue
        scripts = [Path(os.fsdecode(arg)).stem for arg in cmdline if arg.endswith(b".py")]
        chain, pid = set(), int(entry.name)
        while pid > 1:
            chain.add(pid)
            try:
                pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                break
        jobs.append((scripts[-1] if scripts else "", chain))
    return jobs


def test_dask_gradebook_equals_the_thread_pool_with_a_worker_killed_mid_job(fake_class, cluster, tmp_path,
                                                                              monkeypatch):
    threads_out = tmp_path / "threads"
    assert main(fakeclass.grade_args(fake_class, threads_out, "-q")) == 1
    threads = gradebook(threads_out)
    assert threads == EXPECTED
    fake_class["marker"].unlink()

    stores: Counter = Counter()
    original_store = ResultCache.store

    def counting_store(self, submission, extra_id, key, result):
        stores[(submission, extra_id)] += 1
        return original_store(self, submission, extra_id, key, result)

    monkeypatch.setattr(ResultCache, "store", counting_store)
    dask_out = tmp_path / "dask"
    args = fakeclass.grade_args(fake_class, dask_out, "-q", "--dask-scheduler", cluster.address)
    del args[args.index("--jobs"):args.index("--jobs") + 2]  # in flight: from the workers' resources
    outcome: list = []
    grading = threading.Thread(target=lambda: outcome.append(main(args)), daemon=True)
    started = time.monotonic()
    grading.start()
    # Kill a worker while it runs a timeout job (4 s long) that has started: it dies mid-job, for sure.
    victims: list = []

    def worker_running_a_long_job() -> bool:
        started_jobs = set(marker_lines(fake_class))
        for extra, chain in _running_jobs(fake_class["marker"], "timeout"):
            if f"timeout {extra}" in started_jobs:
                victims.extend(w for w in cluster.workers if w.pid in chain)
        return bool(victims)

    assert wait_until(worker_running_a_long_job, 30), "no timeout job ever ran"
    assert not outcome, "the batch must still be running when the worker is killed"
    cluster.kill(victims[0])
    grading.join(120)
    assert not grading.is_alive(), cluster.log()
    assert outcome == [1]
    assert gradebook(dask_out) == threads, "same verdicts and points as the thread pool"
    assert set(stores) == {tuple(p.split()) for p in ALL_PAIRS} and set(stores.values()) == {1}, \
        f"every result recorded exactly once: {stores}"
    runs = Counter(marker_lines(fake_class))
    assert set(runs) == ALL_PAIRS and runs["timeout grad_check"] + runs["timeout conv_train"] >= 3, \
        f"the killed worker's job ran again elsewhere: {runs}"
    assert time.monotonic() - started < 60
    # The killed worker's job process group died with it (its watchdog), leaving nothing behind.
    assert wait_until(lambda: not _running_jobs(fake_class["marker"], "timeout"), 10)

    # A rerun through the cluster (one worker left) reuses every result; none runs again.
    assert main(args) == 1
    assert Counter(marker_lines(fake_class)) == runs and sum(stores.values()) == 12
    report = json.loads((dask_out / "report.json").read_text())
    assert report["provenance"]["backend"] == "local"


def test_scheduler_killed_mid_batch_exits_3_and_the_rerun_resumes(fake_class, cluster, tmp_path):
    out = tmp_path / "grades"
    results = out / "cache" / "results"
    args = fakeclass.grade_args(fake_class, out, "-q", "--dask-scheduler", cluster.address)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: len(list(results.glob("*/*.json"))) >= 2 or proc.poll() is not None, 60)
        assert proc.poll() is None, proc.communicate()
        cluster.kill(cluster.scheduler)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 3, stderr
    assert f"lost the Dask scheduler at {cluster.address}" in stderr
    assert f"finished results are kept in {results}; run the same command again to resume" in stderr
    assert "Traceback" not in stderr
    cached = {f"{p.parent.name} {p.stem}" for p in results.glob("*/*.json")}
    assert 2 <= len(cached) < 12
    ran_before = Counter(marker_lines(fake_class))

    # Resume on this machine's thread pool: same backend identity, so the cached results count.
    assert main(fakeclass.grade_args(fake_class, out, "-q")) == 1
    assert gradebook(out) == EXPECTED
    runs = Counter(marker_lines(fake_class))
    assert all(runs[pair] == ran_before[pair] for pair in cached), "cached results are not rerun"
    assert set(runs) == ALL_PAIRS


def test_a_cluster_that_cannot_run_the_batch_is_refused_with_exit_3(fake_class, tmp_path, capsys,
                                                                    monkeypatch):
    from harness.executors import dask_client

    monkeypatch.setattr(dask_client, "CONNECT_SECONDS", 2.0)
    no_resources = Cluster(tmp_path / "bare", workers=1, resources="GPU=1")
    try:
        args = fakeclass.grade_args(fake_class, tmp_path / "out", "-q", "--dask-scheduler",
                                    no_resources.address)
        assert main(args) == 3
        assert "no Dask worker" in capsys.readouterr().err and not marker_lines(fake_class)
    finally:
        no_resources.close()
    docker_only = Cluster(tmp_path / "docker-only", workers=1, backends="docker")
    try:
        args = fakeclass.grade_args(fake_class, tmp_path / "out", "-q", "--dask-scheduler",
                                    docker_only.address)
        assert main(args) == 3
        err = capsys.readouterr().err
        assert "does not run the local backend" in err and "HARNESS_WORKER_BACKENDS" in err
    finally:
        docker_only.close()
    assert main(fakeclass.grade_args(fake_class, tmp_path / "out", "-q", "--dask-scheduler",
                                     "tcp://127.0.0.1:9")) == 3
    assert "cannot reach the Dask scheduler" in capsys.readouterr().err


def test_trees_travel_as_plain_files_only_and_within_their_cap(tmp_path):
    source = tmp_path / "src"
    (source / "pkg" / "__pycache__").mkdir(parents=True)
    (source / "pkg" / "a.py").write_text("x = 1\n")
    (source / "pkg" / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\0")
    (source / "pkg" / "stray.pyc").write_bytes(b"\0")
    (source / "link").symlink_to("/etc/passwd")
    data = pack_tree(source, cap_bytes=1024, skip_bytecode=True)
    assert data == pack_tree(source, cap_bytes=1024, skip_bytecode=True), "equal trees, equal bytes"
    dest = tmp_path / "dest"
    dest.mkdir()
    unpack_tree(data, dest, cap_bytes=1 << 20, readable=True)
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*")) == ["pkg", "pkg/a.py"]
    assert (dest / "pkg" / "a.py").stat().st_mode & 0o777 == 0o644
    assert tree_hash(dest / "pkg") == tree_hash(source / "pkg")
    (source / "pkg" / "big.bin").write_bytes(b"\0" * 2048)
    with pytest.raises(TreeTooLarge):
        pack_tree(source, cap_bytes=1024)


def test_a_worker_refuses_a_package_whose_bytes_do_not_match_its_hash(tmp_path, monkeypatch):
    from harness.executors import dask_worker

    monkeypatch.setenv(dask_worker.WORKER_DIR_ENV, str(tmp_path / "worker"))
    package = tmp_path / "tinytorch"
    package.mkdir()
    (package / "__init__.py").write_text("")
    data = pack_tree(package, cap_bytes=1 << 20)
    good = dask_worker.materialize("packages", tree_hash(package), data, subdir=("alice", "tinytorch"),
                                   cap=1 << 20)
    assert good.parent.name == "alice" and (good / "__init__.py").is_file()
    with pytest.raises(dask_worker.WorkerRefused, match="tree hash"):
        dask_worker.materialize("packages", "sha256:" + "0" * 64, data, subdir=("bob", "tinytorch"),
                                cap=1 << 20)
    with pytest.raises(dask_worker.WorkerRefused, match="malformed"):
        dask_worker.materialize("packages", tree_hash(package), data, subdir=("..", "tinytorch"), cap=1 << 20)


def test_two_students_with_the_same_package_each_get_their_copy_on_a_worker(tmp_path, monkeypatch):
    """Identical packages (two untouched starters) share a digest; each student's run still sees
    its own <name>/tinytorch, also when both arrive on two threads at once."""
    from harness.executors import dask_worker

    monkeypatch.setenv(dask_worker.WORKER_DIR_ENV, str(tmp_path / "worker"))
    package = tmp_path / "tinytorch"
    (package / "core").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "core" / "tensor.py").write_text("VALUE = 1\n")
    data, digest = pack_tree(package, cap_bytes=1 << 20), tree_hash(package)
    results, errors = {}, []

    def unpack(name):
        try:
            results[name] = dask_worker.materialize("packages", digest, data, subdir=(name, "tinytorch"),
                                                    cap=1 << 20)
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=unpack, args=(name,)) for name in ("alice", "bob", "carol", "alice")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    for name in ("alice", "bob", "carol"):
        copy = results[name]
        assert copy.parent.name == name and (copy / "core" / "tensor.py").read_text() == "VALUE = 1\n"
        assert copy.parent.stat().st_mode & 0o777 == 0o755 and tree_hash(copy) == digest


def _containers_by_worker(workers: list[subprocess.Popen]) -> dict[int, list[str]]:
    """Job ids of the harness containers that each worker process (by pid) has running now."""
    import docker

    from harness.runners.docker.cleanup import LABEL_PID

    pids = {str(w.pid): w.pid for w in workers}
    client = docker.from_env()
    try:
        found: dict[int, list[str]] = {}
        for info in client.api.containers(filters={"label": LABEL_PID}):
            pid = info["Labels"].get(LABEL_PID, "")
            if pid in pids:
                found.setdefault(pids[pid], []).append(info["Labels"].get("tinytorch-harness.job", ""))
        return found
    finally:
        client.close()


@pytest.mark.docker
def test_dask_docker_backend_gradebook_equals_the_thread_pool_with_a_worker_killed(docker_engine, tmp_path):
    import docker
    import yaml

    from harness.runners.docker.cleanup import sweep_orphans

    paths = make_class(tmp_path / "class")
    # Inside a container the host's marker path does not exist: the extras mark in their own /tmp.
    for crit_id, doc in fakeclass.criteria_docs(Path("/tmp/ran.txt")).items():
        (paths["criteria"] / f"{crit_id}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))

    def args(out: Path, *extra: str) -> list[str]:
        command = fakeclass.grade_args(paths, out, "-q", *extra)
        command[command.index("local")] = "docker"
        command.remove(fakeclass.UNCONFINED)
        return command

    assert main(args(tmp_path / "threads")) == 1
    threads = gradebook(tmp_path / "threads")
    assert threads["correct"] == EXPECTED["correct"] and threads["timeout"] == EXPECTED["timeout"]

    cluster = Cluster(tmp_path / "cluster", backends="docker")
    try:
        outcome: list = []
        grading = threading.Thread(
            target=lambda: outcome.append(main(args(tmp_path / "dask", "--dask-scheduler", cluster.address))),
            daemon=True)
        grading.start()
        victims: list = []

        def worker_running_a_timeout_job() -> bool:
            for pid, jobs in _containers_by_worker(cluster.workers).items():
                if any(job.startswith("timeout/") for job in jobs):
                    victims.extend(w for w in cluster.workers if w.pid == pid)
            return bool(victims)

        assert wait_until(worker_running_a_timeout_job, 60), "no timeout job ever ran in a container"
        cluster.kill(victims[0])
        grading.join(120)
        assert not grading.is_alive(), cluster.log()
        assert outcome == [1]
        assert gradebook(tmp_path / "dask") == threads, "same verdicts and points as the thread pool"
        report = json.loads((tmp_path / "dask" / "report.json").read_text())
        assert report["provenance"]["backend"] == "docker" and report["provenance"]["image_id"]
    finally:
        cluster.close()
        client = docker.from_env()
        try:
            sweep_orphans(client)  # the killed worker's container, if no surviving worker swept it yet
        finally:
            client.close()
    assert not _containers_by_worker(cluster.workers)


def test_a_batch_whose_last_fitting_worker_dies_ends_with_exit_3(fake_class, tmp_path, monkeypatch, capsys):
    from harness.executors import dask_client

    monkeypatch.setattr(dask_client, "NO_WORKER_SECONDS", 3.0)
    cluster = Cluster(tmp_path / "one", workers=1)
    try:
        out = tmp_path / "grades"
        args = fakeclass.grade_args(fake_class, out, "-q", "--dask-scheduler", cluster.address)
        outcome: list = []
        grading = threading.Thread(target=lambda: outcome.append(main(args)), daemon=True)
        grading.start()
        assert wait_until(lambda: list((out / "cache" / "results").glob("*/*.json")), 30)
        cluster.kill(cluster.workers[0])
        grading.join(60)
        assert outcome == [3]
        err = capsys.readouterr().err
        assert "no Dask worker" in err and "has had the resources CPU=1" in err
        assert "run the same command again to resume" in err
    finally:
        cluster.close()


def test_check_runs_through_the_cluster_too(fake_class, cluster, tmp_path):
    args = ["check", "--all", "--tinytorch", str(fake_class["submissions"] / "correct"), "--backend", "local",
            "--profile", "quick", "--criteria-dir", str(fake_class["criteria"]), "--extras-dir",
            str(fake_class["extras"]), "--report-dir", str(tmp_path / "reports"), "-q",
            "--dask-scheduler", cluster.address]
    assert main(args) == 0
    report = json.loads((tmp_path / "reports" / "report.json").read_text())
    assert report["submissions"][0]["score"] == 10 and report["submissions"][0]["status"] == "passed"
    assert sorted(marker_lines(fake_class)) == ["correct conv_train", "correct grad_check"]
    args[args.index("--tinytorch") + 1] = str(fake_class["submissions"] / "wrong_gradient")
    assert main(args) == 1


def test_host_timed_phases_are_served_by_the_worker_that_runs_the_job(cluster, tmp_path):
    """baseline_profile's timings come from the worker's runner: it reveals the sealed phases the
    client shipped, times them, and the client verifies every answer before the times count."""
    args = ["check", "baseline_profile", "--backend", "local", "--profile", "quick", "-q",
            "--report-dir", str(tmp_path / "reports"), "--dask-scheduler", cluster.address]
    assert main(args) == 0, cluster.log()
    extra = json.loads((tmp_path / "reports" / "report.json").read_text())["submissions"][0]["extras"][0]
    checks = {check["name"]: check for check in extra["checks"]}
    assert checks["kv_cache_speedup"]["value"] > 2 and checks["kv_cache_speedup"]["source"] == "host"
    assert 0.25 <= checks["latency_measured"]["value"] <= 4


def test_a_failing_extra_is_diagnosed_through_the_cluster_too(cluster, tmp_path):
    """The diagnosis job (extras/_diagnose.py) runs on a worker like the extra; the client judges it."""
    broken = tmp_path / "tanh_no_gradient"
    shutil.copytree(REPO / "tests" / "fixtures" / "course_tinytorch" / "tinytorch", broken / "tinytorch",
                    ignore=shutil.ignore_patterns("__pycache__"))
    autograd = broken / "tinytorch" / "core" / "autograd.py"
    source = autograd.read_text()
    assert source.count("return (grad_output * (1 - t * t),)") == 1
    autograd.write_text(source.replace("return (grad_output * (1 - t * t),)", "return (None,)  # BUG"))
    args = ["check", "xor_crisis", "--tinytorch", str(broken), "--backend", "local", "--profile", "quick",
            "-q", "--report-dir", str(tmp_path / "reports"), "--dask-scheduler", cluster.address]
    assert main(args) == 1, cluster.log()
    extra = json.loads((tmp_path / "reports" / "report.json").read_text())["submissions"][0]["extras"][0]
    assert extra["verdict"] == "failed"
    assert extra["diagnosis"]["component"] == "tinytorch.core.activations.Tanh"
    assert extra["diagnosis"]["summary"].startswith(
        "`tinytorch.core.activations.Tanh`: backward gives no gradient")


def test_the_pytest_plugin_runs_its_items_through_the_cluster(fake_class, cluster, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    command = [sys.executable, "-m", "pytest", "-p", "harness.pytest_plugin", "-p", "no:cacheprovider",
               "--harness", str(fake_class["criteria"]), "--harness-backend", "local",
               "--harness-tinytorch", str(fake_class["submissions"] / "correct"),
               "--harness-extras-dir", str(fake_class["extras"]), "--harness-profile", "quick",
               "--harness-dask-scheduler", cluster.address, "-q"]
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr + cluster.log()
    assert "2 passed" in done.stdout
    assert sorted(marker_lines(fake_class)) == ["correct conv_train", "correct grad_check"]
    # the runs happened on the workers: they unpacked the package they ran
    assert list(cluster.root.glob("worker-*/*/packages/*/correct/tinytorch"))
