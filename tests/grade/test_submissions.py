"""Resolving submissions: folders, archives (and attacks on the extractor), git repositories.

Attacks on intake that need a grader to aim at (links to its reference, a repository's own git
config, memory bombs, hidden bytecode) are in tests/hostile/test_intake_attacks.py.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest

from harness.provenance import tree_hash
from harness.submissions import (
    ArchiveError,
    ArchiveLimits,
    SubmissionError,
    extract_archive,
    resolve_submissions,
)

TENSOR = b"class Tensor: pass\n"
PACKAGE = {"tinytorch/__init__.py": b"VERSION = 1\n", "tinytorch/core/__init__.py": b"",
           "tinytorch/core/tensor.py": TENSOR}
DEFAULT_LIMITS = ArchiveLimits()


def write_tree(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def make_tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def regular(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), data


def link(name: str, target: str, kind=tarfile.SYMTYPE) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, None


def package_members(prefix: str = "alice/") -> list:
    return [regular(prefix + name, data) for name, data in PACKAGE.items()]


def test_folder_and_package_folder_resolve_to_one_snapshot_with_the_content_hash(tmp_path):
    alice = write_tree(tmp_path / "class" / "alice", PACKAGE)
    [resolved] = resolve_submissions([alice], tmp_path / "cache")
    root = resolved.submission.root
    assert resolved.name == "alice" and root.name == "alice" and tmp_path / "cache" in root.parents
    assert (root / "tinytorch" / "core" / "tensor.py").read_bytes() == TENSOR
    assert resolved.hash == tree_hash(alice / "tinytorch") and resolved.hash.startswith("sha256:")
    [as_package] = resolve_submissions([alice / "tinytorch"], tmp_path / "cache")
    assert as_package.name == "alice" and as_package.hash == resolved.hash
    assert as_package.submission.root == root, "the same content is copied once"


def test_folder_snapshot_leaves_bytecode_out_and_follows_edits(tmp_path):
    cached = "tinytorch/core/__pycache__/tensor.cpython-311.pyc"
    alice = write_tree(tmp_path / "alice", {**PACKAGE, cached: b"bytecode"})
    [first] = resolve_submissions([alice], tmp_path / "cache")
    assert not list(first.submission.root.rglob("__pycache__"))
    assert first.hash == tree_hash(alice / "tinytorch"), "the hash ignores __pycache__ as the copy does"
    (alice / "tinytorch" / "core" / "tensor.py").write_text("class Tensor: ...\n")
    [edited] = resolve_submissions([alice], tmp_path / "cache")
    assert edited.hash != first.hash and edited.submission.root != first.submission.root
    assert (edited.submission.root / "tinytorch" / "core" / "tensor.py").read_text() == "class Tensor: ...\n"


def test_package_folder_under_another_name_is_staged_in_the_cache_not_beside_it(tmp_path):
    contents = {name.removeprefix("tinytorch/"): data for name, data in PACKAGE.items()}
    dana = write_tree(tmp_path / "class" / "dana", contents)
    [resolved] = resolve_submissions([tmp_path / "class"], tmp_path / "cache")
    assert resolved.name == "dana" and tmp_path / "cache" in resolved.submission.root.parents
    assert (resolved.submission.root / "tinytorch" / "core" / "tensor.py").read_bytes() == TENSOR
    assert sorted(p.name for p in (tmp_path / "class").iterdir()) == ["dana"], "the input is left untouched"
    assert resolved.hash == tree_hash(dana)


def test_tar_gz_extracts_into_cache_and_is_reused(tmp_path):
    archive = make_tar(tmp_path / "bob.tar.gz", package_members("bob/"))
    [first] = resolve_submissions([archive], tmp_path / "cache")
    assert first.name == "bob"
    assert (first.submission.root / "tinytorch" / "core" / "tensor.py").read_bytes() == TENSOR
    assert tmp_path / "cache" in first.submission.root.parents
    [again] = resolve_submissions([archive], tmp_path / "cache")
    assert again.submission.root == first.submission.root and again.hash == first.hash


def test_zip_of_the_package_contents_is_staged_as_tinytorch(tmp_path):
    archive = tmp_path / "carol.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name, data in PACKAGE.items():
            zf.writestr(name.removeprefix("tinytorch/"), data)
    [carol] = resolve_submissions([archive], tmp_path / "cache")
    assert carol.name == "carol"
    assert (carol.submission.root / "tinytorch" / "core" / "tensor.py").is_file()


def test_folder_of_submissions_expands_and_names_must_be_unique(tmp_path):
    write_tree(tmp_path / "class" / "alice", PACKAGE)
    make_tar(tmp_path / "class" / "bob.tgz", package_members("bob/"))
    (tmp_path / "class" / "notes.txt").write_text("not a submission")
    resolved = resolve_submissions([tmp_path / "class"], tmp_path / "cache")
    assert [r.name for r in resolved] == ["alice", "bob"]
    write_tree(tmp_path / "other" / "alice", PACKAGE)
    with pytest.raises(SubmissionError, match="two submissions are named 'alice'"):
        resolve_submissions([tmp_path / "class", tmp_path / "other" / "alice"], tmp_path / "cache")


@pytest.mark.parametrize("filename", ["..zip", ".hidden.tar.gz", "tab\there.zip"])
def test_names_that_would_escape_or_hide_in_the_exports_are_refused(tmp_path, filename):
    archive = make_tar(tmp_path / filename, package_members(""))
    with pytest.raises(SubmissionError, match="cannot name a submission") as caught:
        resolve_submissions([archive], tmp_path / "cache")
    assert str(archive) in str(caught.value)


def test_missing_path_stops_the_batch_and_archive_without_package_is_that_students_problem(tmp_path):
    with pytest.raises(SubmissionError, match="no such file or directory"):
        resolve_submissions([tmp_path / "nobody"], tmp_path / "cache")
    archive = make_tar(tmp_path / "dave.tar.gz", [regular("README.md", b"hi")])
    [dave] = resolve_submissions([archive], tmp_path / "cache")
    assert dave.name == "dave" and dave.hash == ""
    assert dave.problem.startswith(f"{archive}: no tinytorch package found")


def test_one_refused_submission_does_not_stop_the_others(tmp_path):
    write_tree(tmp_path / "class" / "alice", PACKAGE)
    make_tar(tmp_path / "class" / "eve.tar.gz", package_members("") + [regular("../escape.py", b"x")])
    alice, eve = resolve_submissions([tmp_path / "class"], tmp_path / "cache")
    assert alice.problem is None and alice.hash.startswith("sha256:")
    assert eve.name == "eve" and "member '../escape.py' climbs out of the archive" in eve.problem
    assert not (tmp_path / "escape.py").exists()


# --- attacks on the extractor: each refused with the archive and the member named ---------------

def refused(archive: Path, tmp_path: Path, match: str, limits: ArchiveLimits = DEFAULT_LIMITS) -> str:
    with pytest.raises(ArchiveError, match=match) as caught:
        extract_archive(archive, tmp_path / "out" / "x", limits)
    message = str(caught.value)
    assert str(archive) in message and "refusing to extract" in message
    assert not (tmp_path / "out" / "x").exists(), "nothing half-extracted may be left for reuse"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [], "the staging folder is removed"
    return message


@pytest.mark.parametrize("member", ["../evil.py", "alice/../../evil.py", "..\\evil.py"])
def test_path_traversal_is_refused(tmp_path, member):
    archive = make_tar(tmp_path / "a.tar.gz", package_members() + [regular(member, b"pwned")])
    message = refused(archive, tmp_path, r"climbs out of the archive")
    assert repr(member) in message
    assert not (tmp_path / "evil.py").exists() and not (tmp_path / "out" / "evil.py").exists()


def test_absolute_path_is_refused_in_tar_and_zip(tmp_path):
    archive = make_tar(tmp_path / "a.tar.gz", [regular("/tmp/evil.py", b"pwned")])
    assert "'/tmp/evil.py'" in refused(archive, tmp_path, "absolute path")
    zipped = tmp_path / "b.zip"
    with zipfile.ZipFile(zipped, "w") as zf:
        info = zipfile.ZipInfo("x")
        info.filename = "/etc/evil.py"  # ZipInfo() strips a leading slash; a forged archive keeps it
        zf.writestr(info, b"pwned")
    refused(zipped, tmp_path, "absolute path")


@pytest.mark.parametrize("target", ["/etc", "../../..", "tinytorch/../../..", "core/tensor.py"])
@pytest.mark.parametrize("kind", [tarfile.SYMTYPE, tarfile.LNKTYPE])
def test_every_link_is_refused_wherever_it_points(tmp_path, target, kind):
    archive = make_tar(tmp_path / "a.tar.gz", package_members("") + [link("tinytorch/data", target, kind)])
    message = refused(archive, tmp_path, f"is a link to {target!r}: a tinytorch package never needs links")
    assert "'tinytorch/data'" in message and "replace it with the file it points to" in message


def test_zip_symlink_pointing_outside_is_refused(tmp_path):
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        info = zipfile.ZipInfo("tinytorch/secrets")
        info.external_attr = (0o120777 << 16)
        zf.writestr(info, "/etc/shadow")
    assert "'tinytorch/secrets'" in refused(archive, tmp_path, "is a link: a tinytorch package never needs")


def test_members_are_all_checked_before_anything_is_written(tmp_path):
    archive = make_tar(tmp_path / "a.tar.gz", package_members("") + [regular("z/../../late.py", b"x")])
    refused(archive, tmp_path, "climbs out")
    assert not (tmp_path / "late.py").exists()


@pytest.mark.parametrize("second", ["tinytorch/__init__.py", "tinytorch/__init__.py/x.py"])
def test_a_path_that_is_both_file_and_folder_or_twice_is_refused(tmp_path, second):
    archive = make_tar(tmp_path / "a.tar.gz", package_members("") + [regular(second, b"x")])
    refused(archive, tmp_path, "appears twice, or as both a file and a folder|which is a file")


def test_device_file_is_refused(tmp_path):
    info = tarfile.TarInfo("tinytorch/null")
    info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 1, 3
    archive = make_tar(tmp_path / "a.tar.gz", package_members("") + [(info, None)])
    assert "'tinytorch/null'" in refused(archive, tmp_path, "device, FIFO or other special file")


def test_size_bomb_is_refused_while_streaming(tmp_path):
    zeros = bytes(3 * 1024 * 1024)  # compresses to a few KiB
    archive = make_tar(tmp_path / "bomb.tar.gz", [regular("tinytorch/__init__.py", zeros)])
    assert archive.stat().st_size < 64 * 1024
    message = refused(archive, tmp_path, "past the 1 MiB uncompressed limit",
                      ArchiveLimits(max_total_bytes=1024 * 1024))
    assert "'tinytorch/__init__.py'" in message
    zipped = tmp_path / "bomb.zip"
    with zipfile.ZipFile(zipped, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("tinytorch/__init__.py", zeros)
    refused(zipped, tmp_path, "uncompressed limit", ArchiveLimits(max_total_bytes=1024 * 1024))


def test_file_count_bomb_is_refused(tmp_path):
    archive = make_tar(tmp_path / "many.tar.gz", [regular(f"f{i}.py", b"") for i in range(30)])
    message = refused(archive, tmp_path, "exceeds the limit of 20 files", ArchiveLimits(max_files=20))
    assert "'f20.py'" in message


def test_not_an_archive_is_a_clear_error(tmp_path):
    fake = tmp_path / "eve.zip"
    fake.write_text("this is not a zip")
    with pytest.raises(ArchiveError, match=r"eve\.zip: not a valid zip file"):
        extract_archive(fake, tmp_path / "out")
    [eve] = resolve_submissions([fake], tmp_path / "cache")
    assert eve.problem.startswith(f"{fake}: not a valid zip file")


def test_archive_bytecode_is_left_out(tmp_path):
    archive = make_tar(tmp_path / "a.tar.gz", package_members("") + [
        regular("tinytorch/core/__pycache__/tensor.cpython-311.pyc", b"bytecode"),
        regular("tinytorch/core/hidden.pyc", b"bytecode")])
    out = extract_archive(archive, tmp_path / "out")
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == sorted(PACKAGE)


# --- git repositories ---------------------------------------------------------------------------

def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-C", str(repo), *args],
                   check=True, capture_output=True)


def commit_tree(repo: Path, files: dict[str, bytes]) -> Path:
    write_tree(repo, files)
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "submission")
    return repo


def test_git_repository_exports_the_head_commit_only(tmp_path):
    repo = commit_tree(tmp_path / "frank", PACKAGE)
    (repo / "tinytorch" / "core" / "tensor.py").write_text("uncommitted edit\n")
    [frank] = resolve_submissions([repo], tmp_path / "cache")
    assert frank.name == "frank" and frank.submission.root != repo and frank.problem is None
    assert (frank.submission.root / "tinytorch" / "core" / "tensor.py").read_bytes() == TENSOR
    assert frank.hash == tree_hash(frank.submission.root / "tinytorch")


def test_git_package_one_folder_down_with_packed_refs_and_bare_clone(tmp_path):
    nested = {f"course/{name}": data for name, data in PACKAGE.items()}
    repo = commit_tree(tmp_path / "hana", {**nested, "course/notes/link-target.md": b"x"})
    (repo / "course" / "notes" / "alias.md").symlink_to("link-target.md")  # a link outside the package
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "notes")
    git(repo, "gc", "-q")  # refs and objects packed
    bare = tmp_path / "bare" / "hana"
    subprocess.run(["git", "clone", "-q", "--bare", str(repo), str(bare)], check=True)
    for source in (repo, bare):
        [hana] = resolve_submissions([source], tmp_path / "cache")
        assert hana.problem is None
        files = sorted(p.relative_to(hana.submission.root).as_posix()
                       for p in hana.submission.root.rglob("*") if p.is_file())
        assert files == sorted(PACKAGE), "only the package is exported, links elsewhere are ignored"


def test_git_repository_without_commits_is_a_clear_error(tmp_path):
    repo = write_tree(tmp_path / "gina", PACKAGE)
    git(repo, "init", "-q")
    [gina] = resolve_submissions([repo], tmp_path / "cache")
    assert gina.problem.startswith(f"{repo}: git repository without a HEAD commit")
