"""Resolving submissions: folders, archives (and attacks on the extractor), git repositories."""

from __future__ import annotations

import io
import os
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


def test_folder_and_package_folder_resolve_with_content_hash(tmp_path):
    alice = write_tree(tmp_path / "class" / "alice", PACKAGE)
    [resolved] = resolve_submissions([alice], tmp_path / "cache")
    assert resolved.name == "alice" and resolved.submission.root == alice
    assert resolved.hash == tree_hash(alice / "tinytorch") and resolved.hash.startswith("sha256:")
    [as_package] = resolve_submissions([alice / "tinytorch"], tmp_path / "cache")
    assert as_package.name == "alice" and as_package.hash == resolved.hash


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


def test_missing_path_and_archive_without_package_are_clear_errors(tmp_path):
    with pytest.raises(SubmissionError, match="no such file or directory"):
        resolve_submissions([tmp_path / "nobody"], tmp_path / "cache")
    archive = make_tar(tmp_path / "dave.tar.gz", [regular("README.md", b"hi")])
    with pytest.raises(SubmissionError, match=r"dave\.tar\.gz: no tinytorch package found"):
        resolve_submissions([archive], tmp_path / "cache")


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


@pytest.mark.parametrize("target", ["/etc", "../../..", "tinytorch/../../.."])
def test_symlink_pointing_outside_is_refused(tmp_path, target):
    archive = make_tar(tmp_path / "a.tar.gz", package_members("") + [link("tinytorch/data", target)])
    message = refused(archive, tmp_path, "link to")
    assert "'tinytorch/data'" in message


def test_zip_symlink_pointing_outside_is_refused(tmp_path):
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        info = zipfile.ZipInfo("tinytorch/secrets")
        info.external_attr = (0o120777 << 16)
        zf.writestr(info, "/etc/shadow")
    assert "'tinytorch/secrets'" in refused(archive, tmp_path, "link to the absolute path")


def test_link_re_aimed_by_a_later_link_is_refused(tmp_path):
    # a -> s/t/../.. is inside while s is missing; once s -> . exists it resolves to the parent.
    archive = make_tar(tmp_path / "a.tar.gz", [link("a", "s/t/../.."), link("s", ".")])
    refused(archive, tmp_path, "resolves outside")


def test_inside_symlink_is_kept(tmp_path):
    alias = link("tinytorch/alias.py", "core/tensor.py")
    archive = make_tar(tmp_path / "a.tar.gz", package_members("") + [alias])
    out = extract_archive(archive, tmp_path / "ok")
    assert (out / "tinytorch" / "alias.py").read_bytes() == TENSOR


@pytest.mark.parametrize("target", ["/etc/passwd", "../outside.txt"])
def test_hardlink_outside_is_refused(tmp_path, target):
    (tmp_path / "outside.txt").write_text("secret")
    archive = make_tar(tmp_path / "a.tar.gz", [link("grab.txt", target, kind=tarfile.LNKTYPE)])
    refused(archive, tmp_path, "absolute path|climbs out|hard link")


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
        resolve_submissions([fake], tmp_path / "cache")


# --- git repositories ---------------------------------------------------------------------------

def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-C", str(repo), *args],
                   check=True, capture_output=True)


def test_git_repository_exports_head_without_running_repository_commands(tmp_path):
    repo = write_tree(tmp_path / "frank", PACKAGE)
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "submission")
    (repo / "tinytorch" / "core" / "tensor.py").write_text("uncommitted edit\n")
    marker = tmp_path / "hook-ran"
    hooks = repo / ".git" / "hooks"
    for hook in ("post-checkout", "pre-commit", "post-merge"):
        (hooks / hook).write_text(f"#!/bin/sh\ntouch {marker}\n")
        os.chmod(hooks / hook, 0o755)
    git(repo, "config", "core.fsmonitor", f"touch {marker}; echo")
    [frank] = resolve_submissions([repo], tmp_path / "cache")
    assert frank.name == "frank" and frank.submission.root != repo
    assert (frank.submission.root / "tinytorch" / "core" / "tensor.py").read_bytes() == TENSOR
    assert not marker.exists(), "no hook or configured command of the repository may run"


def test_git_repository_without_commits_is_a_clear_error(tmp_path):
    repo = write_tree(tmp_path / "gina", PACKAGE)
    git(repo, "init", "-q")
    with pytest.raises(SubmissionError, match="without a HEAD commit"):
        resolve_submissions([repo], tmp_path / "cache")
