"""Attacks on the sandbox itself, graded by the real engine on BOTH backends (local, docker).

Hidden bytecode shipped with the package must never run; whatever a script leaves in /out (paths
past PATH_MAX, too many files, odd file types and names) is judged as the submission's, never an
infrastructure error, and leaves nothing behind on the host.
"""

from __future__ import annotations

import importlib.util
import py_compile
import subprocess
import sys
import textwrap

import pytest

from harness.runners.local import LocalRunner
from tests.docker_support import containers_of
from tests.hostile.project import GOOD_PACKAGE, HostileProject

PASSED = ("passed", "the check passed")
OUT_TAKEN = "the script's output could not be taken: "
LONG_PATH = f"/out holds a path longer than 1024 characters ('{'d' * 60}'...); write flat files"
TOO_MANY = "/out holds more than 10000 files and directories; write a few flat files"

# Each attack runs when the package is imported, then answer() is right: only /out is wrong.
OUT_ATTACKS = {
    "path-past-PATH_MAX": ("""
        import os
        fd = os.open(os.environ["HARNESS_OUT"], os.O_RDONLY)
        for _ in range(45):  # 45 x 101 characters: a path of 4545, past the host's PATH_MAX (4096)
            os.mkdir("d" * 100, dir_fd=fd)
            inner = os.open("d" * 100, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = inner
        os.close(os.open("x.npy", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd))
        """, ("failed", OUT_TAKEN + LONG_PATH)),
    "too-many-files": ("""
        import os
        for i in range(10_001):
            os.close(os.open(os.path.join(os.environ["HARNESS_OUT"], f"f{i}"), os.O_WRONLY | os.O_CREAT))
        """, ("failed", OUT_TAKEN + TOO_MANY)),
    "odd-files": ("""
        import os
        out = os.fsencode(os.environ["HARNESS_OUT"])
        os.mkfifo(os.path.join(out, b"pipe"))
        os.symlink(b"/etc/passwd", os.path.join(out, b"passwd"))
        with open(os.path.join(out, b"caf\\xe9-not-utf8.npy"), "wb") as handle:
            handle.write(b"x")
        os.makedirs(os.path.join(out, b"locked", b"inner"))
        with open(os.path.join(out, b"locked-file"), "wb") as handle:
            handle.write(b"x")
        os.chmod(os.path.join(out, b"locked-file"), 0)
        os.chmod(os.path.join(out, b"locked"), 0)
        """, PASSED),
}


@pytest.fixture(params=["local", pytest.param("docker", marks=pytest.mark.docker)])
def runner(request):
    """Each backend; for docker a runner of its own, whose containers must all be gone after."""
    if request.param == "local":
        yield LocalRunner()
        return
    from harness.runners.docker import DockerRunner

    request.getfixturevalue("docker_engine")
    docker = DockerRunner()
    yield docker
    assert containers_of(docker.run_id) == [], "a container outlived its job"


def _grade(project: HostileProject, runner, monkeypatch) -> dict:
    monkeypatch.setattr("harness.datasets.sandbox_view", lambda name: project.data)
    results = project.grade(runner)
    assert (results["good"].verdict, results["good"].reason) == PASSED, results["good"].run
    return results


def _shipped_bytecode(project: HostileProject, source: str) -> None:
    """Put an unchecked-hash .pyc of ``source`` in the hostile package's __pycache__, next to
    its real __init__.py: Python trusts such a file without comparing it to the .py."""
    init = project.hostile / "tinytorch" / "__init__.py"
    hidden = project.root / "hidden_init.py"
    hidden.write_text(source)
    py_compile.compile(str(hidden), cfile=importlib.util.cache_from_source(str(init)), dfile=str(init),
                       invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH, doraise=True)


def test_bytecode_shipped_in_pycache_is_never_run(runner, tmp_path, monkeypatch):
    project = HostileProject(tmp_path, GOOD_PACKAGE)
    _shipped_bytecode(project, "def answer():\n    return 41  # only in the bytecode\n")
    plain = subprocess.run([sys.executable, "-I", "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
                            "import tinytorch; print(tinytorch.answer())", str(project.hostile)],
                           capture_output=True, text=True, timeout=60)
    assert plain.stdout == "41\n", plain.stderr  # the attack is real: plain Python runs the bytecode
    hostile = _grade(project, runner, monkeypatch)["hostile"]
    assert (hostile.verdict, hostile.reason) == PASSED, hostile.run  # the .py ran: answer() == 42


@pytest.mark.parametrize("attack", sorted(OUT_ATTACKS))
def test_what_the_script_leaves_in_out_is_judged_never_an_infrastructure_error(runner, tmp_path,
                                                                                monkeypatch, attack):
    code, expected = OUT_ATTACKS[attack]
    project = HostileProject(tmp_path, textwrap.dedent(code) + GOOD_PACKAGE)
    hostile = _grade(project, runner, monkeypatch)["hostile"]
    assert (hostile.verdict, hostile.reason) == expected, hostile.run
    assert hostile.run.infra_error is None and hostile.run.exit_code == 0
    if attack == "odd-files" and runner.name == "docker":  # what was skipped is named
        assert "skipped 'pipe': a special file" in hostile.run.stderr_tail
        assert "skipped 'passwd': a symlink" in hostile.run.stderr_tail
