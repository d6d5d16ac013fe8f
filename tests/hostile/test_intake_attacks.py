"""Attacks on intake, before any sandbox runs: a submission must not run a command as the grader,
submit the grader's own reference, write outside the cache, blow up the harness's memory, or
ship bytecode that runs instead of the sources a reviewer reads. No Docker needed."""

from __future__ import annotations

import gzip
import importlib.util
import io
import os
import py_compile
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from harness.cli import main
from harness.submissions import (
    ArchiveError,
    ArchiveLimits,
    ResolvedSubmission,
    extract_archive,
    resolve_submissions,
)
from tests.grade.fakeclass import make_class

REPO = Path(__file__).resolve().parents[2]
STUDENT = {"tinytorch/__init__.py": b"", "tinytorch/core/__init__.py": b"",
           "tinytorch/core/ops.py": b"SOURCE = 'the student'\n"}
REFERENCE = {name: data.replace(b"the student", b"the grader's reference") for name, data in STUDENT.items()}


def write_tree(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-C", str(repo),
                           *args], check=check, capture_output=True)


def commit_tree(repo: Path, files: dict[str, bytes]) -> Path:
    write_tree(repo, files)
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "work")
    return repo


def imported(root: Path, module: str = "tinytorch.core.ops") -> str:
    """What ``module.SOURCE`` says when Python imports it from ``root``, as a job would."""
    done = subprocess.run([sys.executable, "-c", f"import {module} as m; print(m.SOURCE)"],
                          env={**os.environ, "PYTHONPATH": str(root)}, capture_output=True, text=True,
                          cwd=root)
    return done.stdout.strip() or done.stderr.strip().splitlines()[-1]


@pytest.fixture
def grader(tmp_path) -> Path:
    """The grader's checkout, with its reference package: what an attack would like to submit."""
    return commit_tree(tmp_path / "grader", REFERENCE)


def only(paths: list[Path], cache: Path) -> ResolvedSubmission:
    [resolved] = resolve_submissions(paths, cache)
    return resolved


# --- 1. a git repository's own config, attributes and hooks --------------------------------------

def test_a_repositorys_config_attributes_and_hooks_never_run(tmp_path):
    marker = tmp_path / "ran-as-the-grader"
    touch = f"sh -c 'echo ran >> {marker}; cat'"
    repo = commit_tree(tmp_path / "mallory", {**STUDENT, ".gitattributes": b"* filter=x diff=x\n"})
    (repo / ".git" / "info").mkdir(exist_ok=True)
    (repo / ".git" / "info" / "attributes").write_text("* filter=x diff=x ident\n")
    included = tmp_path / "included.config"
    included.write_text(f"[core]\n\tfsmonitor = {touch}\n")
    hooks = repo / ".git" / "hooks"
    for hook in ("post-checkout", "pre-commit", "post-merge", "reference-transaction", "pre-auto-gc"):
        (hooks / hook).write_text(f"#!/bin/sh\necho ran >> {marker}\n")
        (hooks / hook).chmod(0o755)
    for key, value in {"filter.x.smudge": touch, "filter.x.clean": touch, "diff.x.textconv": touch,
                       "core.fsmonitor": touch, "core.sshCommand": touch, "core.pager": touch,
                       "core.hooksPath": str(hooks), "include.path": str(included), "alias.archive": touch,
                       "core.repositoryformatversion": "1", "extensions.partialClone": "origin",
                       "remote.origin.promisor": "true", "remote.origin.url": f"ext::{touch}",
                       "uploadpack.packObjectsHook": touch}.items():
        git(repo, "config", key, value)
    # The attack is live: the way the harness used to export HEAD runs the repository's filter.
    git(repo, "-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false", "-c", f"safe.directory={repo}",
        "archive", "--format=tar", "HEAD", check=False)
    assert marker.exists(), "the repository's own config runs a command under git archive"
    marker.unlink()

    mallory = only([repo], tmp_path / "cache")
    assert mallory.problem is None
    root = mallory.submission.root
    assert {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()} == STUDENT
    assert not marker.exists(), "no filter, hook, fsmonitor, alias or other configured command ran"


def test_a_dot_git_file_or_link_pointing_at_the_graders_repository_is_refused(tmp_path, grader):
    eve = write_tree(tmp_path / "class" / "eve", STUDENT)
    (eve / ".git").write_text(f"gitdir: {grader / '.git'}\n")
    ivan = write_tree(tmp_path / "class" / "ivan", STUDENT)
    (ivan / ".git").symlink_to(grader / ".git")
    for student in (eve, ivan):
        resolved = only([student], tmp_path / "cache")
        assert resolved.problem == (f"{student}: .git is a link or a 'gitdir:' file pointing elsewhere "
                                    "(a worktree or a submodule's checkout), not a repository; clone it and "
                                    "pass the clone")


def test_objects_borrowed_from_the_graders_repository_are_refused(tmp_path, grader):
    eve = tmp_path / "class" / "eve"
    subprocess.run(["git", "clone", "-q", "--shared", str(grader), str(eve)], check=True)
    resolved = only([eve], tmp_path / "cache")
    assert "objects/info/alternates borrows objects from another repository" in resolved.problem
    assert "git repack -a -d" in resolved.problem


def test_git_links_and_submodules_in_the_package_are_refused_by_path(tmp_path, grader):
    linked = commit_tree(tmp_path / "linked", {"README.md": b"hi\n"})
    (linked / "tinytorch").symlink_to(grader / "tinytorch")
    inner = commit_tree(tmp_path / "inner", STUDENT)
    (inner / "tinytorch" / "core" / "data").symlink_to("/etc")
    submodule = commit_tree(tmp_path / "submodule", {"README.md": b"hi\n"})
    head = git(grader, "rev-parse", "HEAD").stdout.decode().strip()
    git(submodule, "update-index", "--add", "--cacheinfo", f"160000,{head},tinytorch")
    for repo in (linked, inner):
        git(repo, "add", ".")
    for repo in (linked, inner, submodule):
        git(repo, "commit", "-q", "-m", "attack")
    cache = tmp_path / "cache"
    assert only([linked], cache).problem == (
        f"{linked}: path 'tinytorch' is a link: a tinytorch package never needs links; replace it with the "
        "file it points to; refusing to extract (fix it in the repository, commit, and grade again)")
    assert "path 'tinytorch/core/data' is a link" in only([inner], cache).problem
    assert "path 'tinytorch' is a git submodule" in only([submodule], cache).problem
    assert not [p for p in cache.rglob("*.py") if b"reference" in p.read_bytes()]


# --- 2. links that would submit the grader's reference -------------------------------------------

def test_a_symlinked_or_linking_package_is_refused_by_grade(tmp_path, grader):
    classroom = tmp_path / "class"
    (classroom / "eve").mkdir(parents=True)
    (classroom / "eve" / "tinytorch").symlink_to(grader / "tinytorch")
    inner = write_tree(classroom / "ivan", STUDENT)
    (inner / "tinytorch" / "core" / "ops.py").unlink()
    (inner / "tinytorch" / "core" / "ops.py").symlink_to(grader / "tinytorch" / "core" / "ops.py")
    (classroom / "mallory").symlink_to(grader)
    write_tree(classroom / "alice", STUDENT)
    cache = tmp_path / "cache"
    alice, eve, ivan, mallory = resolve_submissions([classroom], cache)
    assert alice.problem is None and imported(alice.submission.root) == "the student"
    assert eve.problem == (f"{classroom / 'eve' / 'tinytorch'} is a symbolic link (to "
                           f"{str(grader / 'tinytorch')!r}); a tinytorch package never needs links: replace "
                           "it with the file or folder it points to")
    assert ivan.problem.startswith(f"{inner / 'tinytorch' / 'core' / 'ops.py'} is a symbolic link")
    assert mallory.problem.startswith(f"{classroom / 'mallory'} is a symbolic link (to {str(grader)!r}); a "
                                      "submission must be the folder, archive or repository itself")
    assert not [p for p in cache.rglob("*.py") if b"reference" in p.read_bytes()]


def check_args(project: dict[str, Path], package: Path) -> list[str]:
    return ["check", "grad_check", "--backend", "local", "--quiet", "--tinytorch", str(package),
            "--report-dir", str(package.parent / "reports"), "--criteria-dir", str(project["criteria"]),
            "--extras-dir", str(project["extras"])]


def test_a_symlinked_or_linking_package_is_refused_by_check(tmp_path, grader, capsys):
    project = make_class(tmp_path / "project")
    eve = tmp_path / "eve"
    eve.mkdir()
    (eve / "tinytorch").symlink_to(grader / "tinytorch")
    ivan = write_tree(tmp_path / "ivan", STUDENT)
    (ivan / "tinytorch" / "core" / "weights").symlink_to(grader / "tinytorch")
    for package, culprit in ((eve, eve / "tinytorch"), (eve / "tinytorch", eve / "tinytorch"),
                             (ivan, ivan / "tinytorch" / "core" / "weights")):
        assert main(check_args(project, package)) == 2
        assert f"harness check: {culprit} is a symbolic link" in capsys.readouterr().err
    assert not project["marker"].exists(), "nothing ran"


# --- 3. extraction writes nothing outside its root, and checks everything first ------------------

# With the folder t, the link a is inside the archive when it is made (s is missing), and two
# folders above it once s -> . exists: a member under a then lands in grades/feedback/.
CHAIN = [("a", "s/s/t/../../.."), ("s", ".")]
ESCAPE = "a/feedback/bob.md/x"


def chain_tar(path: Path) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        folder = tarfile.TarInfo("t")
        folder.type = tarfile.DIRTYPE
        tar.addfile(folder)
        for name, target in CHAIN:
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
        tar.addfile(tarfile.TarInfo(ESCAPE), io.BytesIO(b""))
    return path


def chain_zip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("t/", b"")
        for name, target in CHAIN:
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o120777 << 16
            zf.writestr(info, target)
        zf.writestr(ESCAPE, b"")
    return path


def listing(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


@pytest.mark.parametrize("make", [chain_tar, chain_zip])
def test_a_chain_of_links_creates_nothing_outside_the_extraction_root(tmp_path, make):
    grades = tmp_path / "grades"
    (grades / "feedback").mkdir(parents=True)
    archive = make(tmp_path / f"eve{'.tar.gz' if make is chain_tar else '.zip'}")
    before = listing(tmp_path)
    with pytest.raises(ArchiveError, match="member 'a' is a link") as caught:
        extract_archive(archive, grades / "cache" / "eve")
    assert "a tinytorch package never needs links" in str(caught.value)
    assert listing(tmp_path) == sorted(before + ["grades/cache"]), "only the (now empty) cache folder is new"
    assert not list((grades / "cache").iterdir()), "the extraction root is removed"


# --- 4. bounded reads --------------------------------------------------------------------------

def peak_growth_kib(archive: Path, dest: Path) -> tuple[str, int]:
    """Extract ``archive`` in a fresh interpreter: (its outcome, how much its peak RSS grew, KiB)."""
    script = ("import resource, sys\nfrom pathlib import Path\n"
              "from harness.submissions import ArchiveError, extract_archive\n"
              "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
              "try:\n    extract_archive(Path(sys.argv[1]), Path(sys.argv[2])); outcome = 'extracted'\n"
              "except ArchiveError as exc:\n    outcome = str(exc)\n"
              "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)\nprint(outcome)\n")
    done = subprocess.run([sys.executable, "-c", script, str(archive), str(dest)], capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=REPO, timeout=300,
                          check=True)
    growth, outcome = done.stdout.split("\n", 1)
    return outcome.strip(), int(growth)


def huge_tar_header(path: Path, kind: bytes, size: int) -> Path:
    """A .tar.gz whose first header (pax or GNU long name) claims ``size`` bytes, all written out."""
    info = tarfile.TarInfo("././@LongLink" if kind == tarfile.GNUTYPE_LONGNAME else "pax")
    info.type, info.size = kind, size
    chunk = bytes(1 << 20)
    with gzip.open(path, "wb", compresslevel=1) as out:
        out.write(info.tobuf(tarfile.GNU_FORMAT))
        for _ in range(size // len(chunk)):
            out.write(chunk)
        member = tarfile.TarInfo("tinytorch/__init__.py")
        out.write(member.tobuf(tarfile.GNU_FORMAT) + bytes(1024))
    return path


@pytest.mark.parametrize("kind", [tarfile.XHDTYPE, tarfile.GNUTYPE_LONGNAME])
def test_a_100_mib_tar_metadata_header_is_refused_without_reading_it(tmp_path, kind):
    archive = huge_tar_header(tmp_path / "eve.tar.gz", kind, 100 << 20)
    outcome, growth = peak_growth_kib(archive, tmp_path / "out")
    assert f"is a {100 << 20}-byte metadata header (pax or GNU long name), over the limit of 64 KiB" \
        in outcome
    assert growth < 16 * 1024, f"peak memory grew by {growth} KiB"


def test_a_zip_with_a_huge_link_member_is_refused_without_reading_it(tmp_path):
    archive = tmp_path / "eve.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        info = zipfile.ZipInfo("tinytorch/data")
        info.external_attr = 0o120777 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        with zf.open(info, "w", force_zip64=True) as member:
            for _ in range(256):
                member.write(bytes(1 << 20))
    assert archive.stat().st_size < 1 << 20
    outcome, growth = peak_growth_kib(archive, tmp_path / "out")
    assert "member 'tinytorch/data' is a link: a tinytorch package never needs links" in outcome
    assert growth < 16 * 1024, f"peak memory grew by {growth} KiB"


def test_a_zip_central_directory_over_the_limit_is_refused_before_parsing(tmp_path):
    archive = tmp_path / "eve.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for i in range(40):
            zf.writestr(f"tinytorch/{'x' * 100}{i}.py", b"")
    with pytest.raises(ArchiveError, match=r"directory lists 40 members in \d+ bytes, over the limit"):
        extract_archive(archive, tmp_path / "out", ArchiveLimits(max_zip_directory_bytes=1024))


def test_a_pax_size_override_cannot_hide_a_later_header_from_the_prescan(tmp_path):
    archive = tmp_path / "eve.tar"
    with tarfile.open(archive, "w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("tinytorch/__init__.py")
        info.pax_headers = {"size": "0"}
        tar.addfile(info, io.BytesIO(b""))
    with pytest.raises(ArchiveError, match="is a pax header giving a size or a sparse map"):
        extract_archive(archive, tmp_path / "out")


# --- 5. bytecode a reviewer never sees -----------------------------------------------------------

def bytecode(tmp_path: Path, target: Path, source: str) -> None:
    """Compile ``source`` into ``target`` as unchecked-hash bytecode (never compared with a .py)."""
    hidden = tmp_path / "hidden_source.py"
    hidden.write_text(source)
    target.parent.mkdir(parents=True, exist_ok=True)
    py_compile.compile(str(hidden), cfile=str(target), doraise=True,
                       invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)


def test_pycache_bytecode_that_differs_from_its_source_is_not_graded(tmp_path):
    alice = write_tree(tmp_path / "class" / "alice", STUDENT)
    ops = alice / "tinytorch" / "core" / "ops.py"
    bytecode(tmp_path, Path(importlib.util.cache_from_source(str(ops))), "SOURCE = 'hidden bytecode'\n")
    assert imported(alice) == "hidden bytecode", "the attack is live where the folder is used in place"
    resolved = only([alice], tmp_path / "cache")
    assert resolved.problem is None and imported(resolved.submission.root) == "the student"
    assert not list(resolved.submission.root.rglob("*.pyc"))


def test_sourceless_bytecode_is_refused_in_a_folder_and_left_out_of_archives_and_git(tmp_path, capsys):
    alice = write_tree(tmp_path / "alice", STUDENT)
    bytecode(tmp_path, alice / "tinytorch" / "core" / "secret.pyc", "SOURCE = 'hidden bytecode'\n")
    assert imported(alice, "tinytorch.core.secret") == "hidden bytecode"
    message = only([alice], tmp_path / "cache").problem
    assert message.startswith(f"{alice / 'tinytorch' / 'core' / 'secret.pyc'} is compiled bytecode outside "
                              "__pycache__")
    project = make_class(tmp_path / "project")
    assert main(check_args(project, alice)) == 2
    assert "secret.pyc is compiled bytecode outside __pycache__" in capsys.readouterr().err

    archive = tmp_path / "bob.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in alice.rglob("*"):
            zf.write(path, path.relative_to(alice).as_posix())
    files = {p.relative_to(alice).as_posix(): p.read_bytes() for p in alice.rglob("*") if p.is_file()}
    repo = commit_tree(tmp_path / "carol", files)
    for source in (archive, repo):
        resolved = only([source], tmp_path / "cache")
        assert resolved.problem is None and not list(resolved.submission.root.rglob("*.pyc"))
        assert "No module named 'tinytorch.core.secret'" in imported(resolved.submission.root,
                                                                      "tinytorch.core.secret")
