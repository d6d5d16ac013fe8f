"""Turn each SUBMISSION argument of ``harness grade`` into a directory holding ``tinytorch/``.

Accepted: a directory containing ``tinytorch/`` (or the package directory itself), an archive
(.zip, .tar.gz, .tgz, .tar) extracted safely into the cache, a git repository (its HEAD exported
with ``git archive``; no hook or configured command of the repository runs), or a folder of any
of these (one submission per entry). Archives are untrusted: absolute paths, ``..``, links that
leave the archive, device files, and more than ``ArchiveLimits`` files or bytes are rejected
with the archive's and the member's name.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from harness.engine import Submission, SubmissionError
from harness.provenance import tree_hash

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".zip")
_SKIPPED_ENTRIES = {"__MACOSX", ".DS_Store"}
_CHUNK = 1 << 16


@dataclass(frozen=True)
class ArchiveLimits:
    """What one extracted archive may hold."""

    max_files: int = 5000
    max_total_bytes: int = 200 * 1024 * 1024


@dataclass(frozen=True)
class ResolvedSubmission:
    """A submission ready to grade: the engine's (name, root), where it came from, its content hash."""

    submission: Submission
    source: Path
    hash: str

    @property
    def name(self) -> str:
        return self.submission.name


class ArchiveError(SubmissionError):
    """An archive was refused; the message names the archive, the member and what to do."""


def submission_name(path: Path) -> str:
    """The student's name: the directory name or the archive's stem (``alice.tar.gz`` -> ``alice``)."""
    name = path.name
    for suffix in ARCHIVE_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    if name == "tinytorch":
        return path.parent.name
    return name


def check_name(name: str, source: Path) -> str:
    """A name is used in file names of the exports: no separators, no leading dot, no control characters."""
    if not name or name.startswith(".") or any(c in name for c in "/\\") or not name.isprintable():
        raise SubmissionError(f"{source}: {name!r} cannot name a submission (it becomes a file name in the "
                              "exports); rename the folder or archive, e.g. to the student's id")
    return name


def is_archive(path: Path) -> bool:
    return path.is_file() and path.name.lower().endswith(ARCHIVE_SUFFIXES)


def is_git_repository(path: Path) -> bool:
    return (path / ".git").exists() or all((path / p).exists() for p in ("HEAD", "objects", "refs"))


def _is_package(path: Path) -> bool:
    return (path / "__init__.py").is_file() and (path / "core").is_dir()


def _package_root(directory: Path, source: Path, cache_dir: Path) -> Path:
    """The directory containing ``tinytorch/`` inside an extracted tree (top level, or one folder down)."""
    candidates = [directory]
    entries = [e for e in directory.iterdir()
               if e.name not in _SKIPPED_ENTRIES and not e.name.startswith(".")]
    if len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink():
        candidates.append(entries[0])
    for candidate in candidates:
        if (candidate / "tinytorch" / "__init__.py").is_file():
            return candidate
    for candidate in candidates:
        if _is_package(candidate):
            return _stage_package(candidate, cache_dir)
    raise SubmissionError(
        f"{source}: no tinytorch package found (looked for tinytorch/__init__.py at the top level "
        "and one folder down); the submission must contain the tinytorch/ package folder"
    )


def _stage_package(package_dir: Path, cache_dir: Path) -> Path:
    """A package given as its own folder (not named tinytorch): copied to ``<cache>/…/tinytorch``."""
    staged = cache_dir / f"{package_dir.name}-package-{tree_hash(package_dir)[7:23]}"
    if not (staged / "tinytorch").is_dir():
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".staging-", dir=cache_dir))
        shutil.copytree(package_dir, tmp / "tinytorch", symlinks=True)
        os.replace(tmp, staged)
    return staged


def _content_id(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()[:16]


# --- safe extraction ---------------------------------------------------------------------------

def _member_path(archive: Path, name: str) -> PurePosixPath:
    """The member's relative path, or ArchiveError for absolute paths and ``..``."""
    unified = name.replace("\\", "/")
    if unified.startswith("/") or (len(unified) > 1 and unified[1] == ":"):
        raise ArchiveError(f"{archive}: member {name!r} has an absolute path; refusing to extract "
                           "(re-create the archive with relative paths)")
    parts = [p for p in unified.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ArchiveError(f"{archive}: member {name!r} climbs out of the archive with '..'; "
                           "refusing to extract (re-create the archive without '..' in paths)")
    return PurePosixPath(*parts) if parts else PurePosixPath(".")


def _inside(root: Path, path: Path) -> bool:
    return os.path.commonpath([root, path]) == str(root)


class _Extractor:
    """Writes members under ``root`` while enforcing the limits and the no-escape rules."""

    def __init__(self, archive: Path, root: Path, limits: ArchiveLimits):
        self.archive, self.root, self.limits = archive, Path(os.path.realpath(root)), limits
        self.files = 0
        self.bytes = 0

    def refuse(self, member: str, why: str) -> ArchiveError:
        return ArchiveError(f"{self.archive}: member {member!r} {why}; refusing to extract "
                            "(unpack it yourself after checking it, and pass the folder instead)")

    def count(self, member: str) -> None:
        self.files += 1
        if self.files > self.limits.max_files:
            raise self.refuse(member, f"exceeds the limit of {self.limits.max_files} files")

    def _destination(self, member: str, relative: PurePosixPath) -> Path:
        dest = self.root / relative
        parent = Path(os.path.realpath(dest.parent))
        if not _inside(self.root, parent):
            raise self.refuse(member, "would be written through a link that leaves the archive")
        if dest.is_symlink():
            raise self.refuse(member, "would overwrite a link")
        return parent / dest.name

    def directory(self, member: str, relative: PurePosixPath) -> None:
        self.count(member)
        if relative == PurePosixPath("."):
            return
        dest = self._destination(member, relative)
        dest.mkdir(parents=True, exist_ok=True)

    def file(self, member: str, relative: PurePosixPath, source: BinaryIO, executable: bool) -> None:
        self.count(member)
        (self.root / relative).parent.mkdir(parents=True, exist_ok=True)
        dest = self._destination(member, relative)
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
        with os.fdopen(os.open(dest, flags, 0o755 if executable else 0o644), "wb") as out:
            for chunk in iter(lambda: source.read(_CHUNK), b""):
                self.bytes += len(chunk)
                if self.bytes > self.limits.max_total_bytes:
                    mib = self.limits.max_total_bytes // (1024 * 1024)
                    raise self.refuse(member, f"takes the archive past the {mib} MiB uncompressed limit")
                out.write(chunk)

    def symlink(self, member: str, relative: PurePosixPath, target: str) -> None:
        self.count(member)
        if target.startswith("/") or not target:
            raise self.refuse(member, f"is a link to the absolute path {target!r}")
        resolved = os.path.normpath(os.path.join(self.root, relative.parent, target))
        if not _inside(self.root, Path(resolved)):
            raise self.refuse(member, f"is a link to {target!r}, outside the archive")
        (self.root / relative).parent.mkdir(parents=True, exist_ok=True)
        dest = self._destination(member, relative)
        if not _inside(self.root, Path(os.path.realpath(dest.parent / target))):
            raise self.refuse(member, f"is a link to {target!r}, which resolves outside the archive")
        dest.symlink_to(target)

    def verify_links(self) -> None:
        """After extraction: every link must still resolve inside (a later link can re-aim an earlier one)."""
        for directory, dirnames, filenames in os.walk(self.root):
            for entry in dirnames + filenames:
                path = Path(directory) / entry
                if path.is_symlink() and not _inside(self.root, Path(os.path.realpath(path))):
                    member = path.relative_to(self.root).as_posix()
                    raise self.refuse(member, f"is a link to {os.readlink(path)!r}, which resolves outside "
                                      "the archive once the other links are in place")

    def hardlink(self, member: str, relative: PurePosixPath, target: str) -> None:
        """A hard link becomes a copy of an already extracted regular file inside the archive."""
        target_path = _member_path(self.archive, target)
        source = Path(os.path.realpath(self.root / target_path))
        if not _inside(self.root, source) or not source.is_file():
            raise self.refuse(member, f"is a hard link to {target!r}, which is not a file inside the archive")
        with source.open("rb") as handle:
            self.file(member, relative, handle, executable=os.access(source, os.X_OK))


def _extract_tar(archive: Path, source: BinaryIO | None, extractor: _Extractor) -> None:
    with tarfile.open(name=None if source is not None else archive, fileobj=source, mode="r|*") as tar:
        for member in tar:
            relative = _member_path(archive, member.name)
            if member.isdir():
                extractor.directory(member.name, relative)
            elif member.isreg():
                handle = tar.extractfile(member)
                extractor.file(member.name, relative, handle, executable=bool(member.mode & 0o100))
            elif member.issym():
                extractor.symlink(member.name, relative, member.linkname)
            elif member.islnk():
                extractor.hardlink(member.name, relative, member.linkname)
            else:
                raise extractor.refuse(member.name, "is a device, FIFO or other special file")


def _zip_members(archive: Path) -> Iterator[tuple[zipfile.ZipFile, zipfile.ZipInfo]]:
    try:
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                yield zf, info
    except zipfile.BadZipFile as exc:
        raise ArchiveError(f"{archive}: not a valid zip file ({exc}); re-create the archive") from None


def _extract_zip(archive: Path, extractor: _Extractor) -> None:
    for zf, info in _zip_members(archive):
        relative = _member_path(archive, info.filename)
        unix_mode = info.external_attr >> 16
        if info.is_dir():
            extractor.directory(info.filename, relative)
        elif stat.S_ISLNK(unix_mode):
            target = zf.read(info)[:4096].decode("utf-8", errors="replace")
            extractor.symlink(info.filename, relative, target)
        elif stat.S_IFMT(unix_mode) not in (0, stat.S_IFREG):
            raise extractor.refuse(info.filename, "is a device, FIFO or other special file")
        else:
            with zf.open(info) as handle:
                extractor.file(info.filename, relative, handle, executable=bool(unix_mode & 0o100))


def extract_archive(archive: Path, dest: Path, limits: ArchiveLimits = ArchiveLimits()) -> Path:
    """Extract ``archive`` into the new directory ``dest`` atomically; ArchiveError when refused."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        extractor = _Extractor(archive, tmp, limits)
        if archive.name.lower().endswith(".zip"):
            _extract_zip(archive, extractor)
        else:
            try:
                _extract_tar(archive, None, extractor)
            except tarfile.TarError as exc:
                raise ArchiveError(f"{archive}: not a valid tar archive ({exc}); "
                                   "re-create the archive") from None
        extractor.verify_links()
        os.replace(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def export_git_head(repo: Path, dest: Path, limits: ArchiveLimits = ArchiveLimits()) -> Path:
    """Export the repository's HEAD commit with ``git archive`` (no hooks, no fsmonitor) into ``dest``."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    command = ["git", "-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false",
               "-c", f"safe.directory={repo}", "-C", str(repo), "archive", "--format=tar", "HEAD"]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "GIT_CONFIG_NOSYSTEM": "1",
           "HOME": str(dest.parent), "GIT_TERMINAL_PROMPT": "0"}
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        extractor = _Extractor(repo, tmp, limits)
        with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env) as git:
            try:
                _extract_tar(repo, git.stdout, extractor)
            except tarfile.TarError:
                pass  # git failed before writing a tar stream: its stderr says why (below)
            finally:
                git.kill()
                error = git.stderr.read().decode(errors="replace").strip()
                code = git.wait()
        if code not in (0, -9) or not any(tmp.iterdir()):
            raise SubmissionError(f"{repo}: `git archive HEAD` failed ({error or f'exit {code}'}); "
                                  "make sure the repository has at least one commit")
        extractor.verify_links()
        os.replace(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


# --- resolving arguments -----------------------------------------------------------------------

def _resolved(name: str, root: Path, source: Path) -> ResolvedSubmission:
    return ResolvedSubmission(Submission(name=name, root=root), source, tree_hash(root / "tinytorch"))


def _resolve_one(path: Path, cache_dir: Path, limits: ArchiveLimits) -> ResolvedSubmission:
    name = check_name(submission_name(path), path)
    if is_archive(path):
        dest = cache_dir / f"{name}-{_content_id(path)}"
        if not dest.is_dir():
            extract_archive(path, dest, limits)
        return _resolved(name, _package_root(dest, path, cache_dir), path)
    if is_git_repository(path):
        head = subprocess.run(["git", "-c", f"safe.directory={path}", "-C", str(path), "rev-parse", "HEAD"],
                              capture_output=True, text=True, env={"PATH": os.environ.get("PATH", "")})
        if head.returncode != 0:
            raise SubmissionError(f"{path}: git repository without a HEAD commit "
                                  f"({head.stderr.strip()}); commit the submission first")
        dest = cache_dir / f"{name}-git-{head.stdout.strip()[:16]}"
        if not dest.is_dir():
            export_git_head(path, dest, limits)
        return _resolved(name, _package_root(dest, path, cache_dir), path)
    if (path / "tinytorch" / "__init__.py").is_file():
        return _resolved(name, path, path)
    if path.name == "tinytorch" and (path / "__init__.py").is_file():
        return _resolved(name, path.parent, path)
    return _resolved(name, _package_root(path, path, cache_dir), path)


def _looks_like_submission(path: Path) -> bool:
    return (is_archive(path) or (path.is_dir() and (is_git_repository(path) or _is_package(path)
            or (path / "tinytorch" / "__init__.py").is_file())))


def expand_arguments(paths: list[Path]) -> list[Path]:
    """Each argument, or for a folder of submissions (a class), each entry inside it, sorted."""
    expanded: list[Path] = []
    for path in paths:
        path = Path(path).expanduser().absolute()
        if not path.exists():
            raise SubmissionError(f"{path}: no such file or directory; pass a folder containing tinytorch/, "
                                  f"an archive ({', '.join(ARCHIVE_SUFFIXES)}) or a git repository")
        if path.is_dir() and not _looks_like_submission(path):
            children = sorted(p for p in path.iterdir() if not p.name.startswith(".")
                              and _looks_like_submission(p))
            if not children:
                raise SubmissionError(f"{path}: neither a submission nor a folder of submissions "
                                      "(no tinytorch/ package, archive or git repository found in it)")
            expanded.extend(children)
        else:
            expanded.append(path)
    return expanded


def resolve_submissions(paths: list[Path], cache_dir: Path,
                        limits: ArchiveLimits = ArchiveLimits()) -> list[ResolvedSubmission]:
    """Resolve every argument; names must be unique across the batch."""
    resolved = [_resolve_one(p, Path(cache_dir), limits) for p in expand_arguments(paths)]
    seen: dict[str, Path] = {}
    for item in resolved:
        if item.name in seen:
            raise SubmissionError(f"two submissions are named {item.name!r}: {seen[item.name]} and "
                                  f"{item.source}; rename one (the name is the folder or archive stem)")
        seen[item.name] = item.source
    return resolved
