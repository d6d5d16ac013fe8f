"""The local backend's sandbox: scrubbed environment, fresh dirs, group kill, limits."""

from __future__ import annotations

import json
import os
import time

import pytest

from harness.runners.base import Budget, Job
from harness.runners.local import LocalRunner
from harness.runners.local import runner as local


@pytest.fixture
def run_script(project, run_results):
    """Run a probe script with the local runner; its /out copy is removed after the test."""

    def run(source, **budget):
        (project.extras / "probe.py").write_text(source)
        job = Job("s/probe", "probe", "probe.py", project.extras, project.submission, args=("--quick",),
                  env=(("EXTRA_FLAG", "1"),), budget=Budget(**budget), seed=7, profile="quick")
        return run_results(LocalRunner().run(job))

    return run


def _alive(pid: int) -> bool:
    """Running and not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_environment_is_scrubbed_and_points_at_the_submission(run_script, project, monkeypatch):
    monkeypatch.setenv("SECRET_TOKEN", "do-not-leak")
    run = run_script("import json, os, sys\n"
                              "seen = {'env': dict(os.environ), 'cwd': os.getcwd(), 'argv': sys.argv}\n"
                              "print(json.dumps(seen))\n")
    seen = json.loads(run.stdout)
    env = seen["env"]
    assert "SECRET_TOKEN" not in env
    assert set(env) == {"PATH", "HOME", "TMPDIR", "LANG", "HARNESS_OUT", "HARNESS_SEED", "HARNESS_PROFILE",
                        "PYTHONPATH", "PYTHONHASHSEED", "PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX",
                        "PYTHONUNBUFFERED", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                        "EXTRA_FLAG"}
    assert env["PYTHONPATH"].split(os.pathsep)[0] == str(project.submission) and env["HARNESS_SEED"] == "7"
    assert env["HARNESS_PROFILE"] == "quick" and env["OPENBLAS_NUM_THREADS"] == "1"
    assert env["HOME"] == seen["cwd"] and seen["argv"][1:] == ["--quick"]
    assert env["PYTHONPYCACHEPREFIX"] == os.path.join(seen["cwd"], ".pycache")
    assert not os.path.exists(seen["cwd"])  # the work dir is removed after the run
    assert run.out_dir.is_dir() and str(run.out_dir) == env["HARNESS_OUT"]


def test_the_reference_never_stands_in_for_a_missing_module(run_script, project):
    """An editable install maps every ``tinytorch.*`` to this checkout through a .pth finder; the
    script runs without site processing, so a module the student lacks stays missing."""
    package = project.submission / "tinytorch"
    package.mkdir(exist_ok=True)
    (package / "__init__.py").touch()
    run = run_script("import sys, numpy\n"
                     "try:\n    import tinytorch.perf.memoization as m\n    print('LEAK', m.__file__)\n"
                     "except ModuleNotFoundError as exc:\n    print('missing', exc.name)\n"
                     "print('site' in sys.modules)\n")
    assert run.stdout.split() == ["missing", "tinytorch.perf", "False"], run.stderr


def test_timeout_kills_grandchildren_too(run_script):
    source = ("import subprocess, sys, time\n"
              "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
              "print(child.pid, flush=True)\n"
              "time.sleep(60)\n")
    started = time.monotonic()
    run = run_script(source, wall_seconds=1.0)
    assert run.timed_out and time.monotonic() - started < 10
    grandchild = int(run.stdout.split()[0])
    time.sleep(0.2)
    assert not _alive(grandchild)


def test_file_size_limit_stops_huge_writes(run_script):
    source = ("import os\n"
              "try:\n"
              "    with open(os.path.join(os.environ['HARNESS_OUT'], 'big.bin'), 'wb') as f:\n"
              "        f.write(b'x' * (3 * 1024 * 1024))\n"
              "except OSError as exc:\n"
              "    print('refused', exc.errno)\n")
    run = run_script(source, out_mib=1)
    assert "refused 27" in run.stdout  # EFBIG
    assert os.path.getsize(run.out_dir / "big.bin") <= 1024 * 1024


def test_limits_hold_without_the_prlimit_tool(run_script, monkeypatch):
    monkeypatch.setattr(local, "_PRLIMIT", None)
    run = run_script("import resource\nprint(resource.getrlimit(resource.RLIMIT_AS)[0] // 2**20,"
                     " resource.getrlimit(resource.RLIMIT_CORE)[0])\n", memory_mib=300)
    assert run.stdout.split() == ["300", "0"]


def test_usage_is_measured(run_script):
    run = run_script("x = bytearray(64 * 1024 * 1024)\nsum(range(3_000_000))\n")
    assert run.exit_code == 0 and run.signal is None
    assert run.peak_rss_mib >= 64
    assert 0 < run.cpu_seconds <= run.wall_seconds + 0.5
    assert run.finished_at >= run.started_at + run.wall_seconds - 0.05


def test_missing_script_is_an_exit_code_not_a_harness_crash(project, run_results):
    job = Job("s/none", "none", "none.py", project.extras, project.submission)
    run = run_results(LocalRunner().run(job))
    assert run.exit_code == 2 and "can't open file" in run.stderr


def test_peak_rss_is_the_jobs_not_the_big_parents(run_script):
    # execve keeps the old memory map's high-water RSS in ru_maxrss: a job spawned straight from a
    # big harness process would report the harness's size. The launcher measures the script alone.
    np = pytest.importorskip("numpy")
    ballast = np.ones(600 * 2**20 // 8)  # this process touches ~600 MiB before the job starts
    run = run_script("x = bytearray(b'\\x01') * (100 * 1024 * 1024)\n", memory_mib=1024)
    assert float(ballast[-1]) == 1.0
    assert run.exit_code == 0 and run.signal is None
    assert 100 <= run.peak_rss_mib < 250


def test_script_holds_no_descriptor_beyond_its_stdio(run_script):
    # the launcher's report pipe is close-on-exec: the script cannot write the job's status
    run = run_script("import os\nprint(sorted(int(fd) for fd in os.listdir('/proc/self/fd')))\n")
    assert run.exit_code == 0
    assert [fd for fd in json.loads(run.stdout) if fd > 2] == [3]  # 3: the listdir handle itself


DEEP_TREE = """\
import os, sys
# 2100 nested directories: a path of 4200 characters, past PATH_MAX, each level locked (mode 000)
fd = os.open(os.environ[sys.argv[1]], os.O_RDONLY)
for _ in range(2100):
    os.mkdir("a", dir_fd=fd)
    inner = os.open("a", os.O_RDONLY, dir_fd=fd)
    os.chmod(fd, 0)
    os.close(fd)
    fd = inner
print("built")
"""


@pytest.mark.parametrize("where", ["HOME", "HARNESS_OUT"])
def test_a_deep_locked_tree_is_removed_and_never_an_infrastructure_error(project, run_results, where):
    (project.extras / "deep.py").write_text(DEEP_TREE)
    job = Job("s/deep", "deep", "deep.py", project.extras, project.submission, args=(where,))
    run = run_results(LocalRunner().run(job))
    assert (run.exit_code, run.infra_error, run.stdout) == (0, None, "built\n"), run.stderr
    if where == "HARNESS_OUT":  # judged as the script's failure; the tree is gone already
        assert run.out_dir is None and run.out_problem.startswith("/out holds a path more than 32 dir")
        assert run.stderr.endswith(f"[harness: {run.out_problem}]")
    else:
        assert run.out_problem is None and run.out_dir.is_dir()


def test_too_many_files_in_out_is_the_scripts_problem(run_script):
    run = run_script("import os\nout = os.environ['HARNESS_OUT']\n"
                     "for i in range(10_001):\n    open(os.path.join(out, f'f{i}'), 'w').close()\n")
    assert run.exit_code == 0 and run.out_dir is None
    assert run.out_problem == "/out holds more than 10000 files and directories; write a few flat files"
