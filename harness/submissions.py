"""Turn each SUBMISSION argument of ``harness grade`` into a directory holding ``tinytorch/``.

Accepted: a directory containing ``tinytorch/`` (or the package directory itself), an archive
(.zip, .tar.gz, .tgz, .tar), a git repository (its HEAD commit), or a folder of any of these (one
submission per entry). Submissions are untrusted, so what gets graded is always a clean copy of
the package that this module writes into the cache:

- every member (archive), path (git) or file (folder) is checked before anything is written:
  absolute paths, ``..``, links, special files, and more than ``ArchiveLimits`` files or bytes
  are refused with the source's and the member's name; bytecode (``__pycache__``, ``.pyc``) is
  left out;
- a git repository is read by git on a fresh repository of ours holding a copy of the
  submission's objects: none of the submission's config, attributes or hooks is ever read.

A submission whose content cannot be graded resolves with a ``problem`` instead of a package.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import lzma
import os
import re
import shutil
import stat
import struct
import subprocess
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from harness.engine import Submission, SubmissionError, check_package
from harness.provenance import tree_hash

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".zip")
_SKIPPED_ENTRIES = {"__MACOSX", ".DS_Store"}
_CHUNK = 1 << 16
_MIB = 1024 * 1024
_PACKAGE = PurePosixPath("tinytorch")
_REPACK = "re-create the archive from the package's own files"


@dataclass(frozen=True)
class ArchiveLimits:
    """What one submission may hold once extracted, and how much of it is read to find out."""

    max_files: int = 5000
    max_total_bytes: int = 200 * _MIB
    max_header_bytes: int = 64 * 1024  # one tar metadata header (pax, GNU long name)
    max_zip_directory_bytes: int = 4 * _MIB  # a zip's central directory: every member's name and fields
    max_repository_files: int = 100_000  # a git repository's object store, and the paths of its HEAD
    max_repository_bytes: int = 1024 * _MIB


@dataclass(frozen=True)
class ResolvedSubmission:
    """A submission ready to grade: the engine's (name, root), where it came from, its content hash.

    ``problem`` says why it cannot be graded (then ``hash`` is empty and nothing is run).
    """

    submission: Submission
    source: Path
    hash: str
    problem: str | None = None

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
    return os.path.lexists(path / ".git") or all((path / p).exists() for p in ("HEAD", "objects", "refs"))


def _content_id(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()[:16]


# --- where the package is ----------------------------------------------------------------------

def _find_package(kind: Callable[[PurePosixPath], str | None], top: Iterable[str],
                  source: Path) -> PurePosixPath:
    """The package folder: ``tinytorch/`` at the top or in the only folder, else the top (or that
    folder) itself when it is a package (``__init__.py`` and ``core/``). ``kind`` says "file",
    "dir" or None for a relative path; ``top`` names the top-level entries."""
    shown = [name for name in top if name not in _SKIPPED_ENTRIES and not name.startswith(".")]
    candidates = [PurePosixPath()]
    if len(shown) == 1 and kind(PurePosixPath(shown[0])) == "dir":
        candidates.append(PurePosixPath(shown[0]))
    for candidate in candidates:
        if kind(candidate / _PACKAGE / "__init__.py") == "file":
            return candidate / _PACKAGE
    for candidate in candidates:
        if kind(candidate / "__init__.py") == "file" and kind(candidate / "core") == "dir":
            return candidate
    raise SubmissionError(
        f"{source}: no tinytorch package found (looked for tinytorch/__init__.py at the top level "
        "and one folder down); the submission must contain the tinytorch/ package folder"
    )


def _package_prefix(files: set[PurePosixPath], dirs: set[PurePosixPath], source: Path) -> PurePosixPath:
    """``_find_package`` among the relative paths of an archive or a commit."""
    dirs = dirs | {parent for path in files | dirs for parent in path.parents}
    top = {path.parts[0] for path in files | dirs if path.parts}
    return _find_package(lambda p: "file" if p in files else "dir" if p in dirs else None, sorted(top),
                         source)


def _mode_kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISREG(mode):
        return "file"
    return "link" if stat.S_ISLNK(mode) else "special"


def _disk_kind(root: Path, relative: PurePosixPath) -> str | None:
    """What ``root/relative`` is, without following a link in its last part."""
    try:
        return _mode_kind(os.lstat(root.joinpath(*relative.parts)).st_mode)
    except OSError:
        return None


def _directory_package(path: Path) -> Path:
    """A folder submission's package folder (``path`` itself when it is the tinytorch/ folder)."""
    if path.name == "tinytorch" and _disk_kind(path, PurePosixPath("__init__.py")) == "file":
        return path
    return path.joinpath(*_find_package(lambda p: _disk_kind(path, p), os.listdir(path), path).parts)


def _subtree(entries: Iterable[tuple[PurePosixPath, _Member]],
             prefix: PurePosixPath) -> list[tuple[PurePosixPath, _Member]]:
    """The entries at or under ``prefix``, re-rooted as ``tinytorch/``."""
    return [(_PACKAGE / path.relative_to(prefix), member) for path, member in entries
            if path == prefix or prefix in path.parents]


# --- checking, then writing, the members of one source ------------------------------------------

@dataclass(frozen=True)
class _Member:
    """One entry of a submission as its source describes it, before anything is written."""

    name: str  # as the source spells it, for messages
    kind: str  # "dir", "file", "link", "submodule", "encrypted" or "special"
    size: int = 0
    executable: bool = False
    key: object = None  # how the source reads the content: TarInfo, ZipInfo, blob id or Path
    target: str = ""  # a link's target, when the source says


_REFUSED_KINDS = {
    "link": "is a link{target}: a tinytorch package never needs links; replace it with the file it points to",
    "submodule": "is a git submodule: a tinytorch package never needs one; commit the files themselves",
    "encrypted": "is encrypted; re-create the archive without a password",
    "special": "is a device, FIFO or other special file, which a tinytorch package never needs",
}


def _is_bytecode(path: PurePosixPath) -> bool:
    return "__pycache__" in path.parts or path.suffix in (".pyc", ".pyo")


class _Tree:
    """Checks every member of one source before writing any; then writes folders and regular files."""

    def __init__(self, source: Path, root: Path, limits: ArchiveLimits, noun: str, fix: str):
        self.source, self.root, self.limits, self.noun, self.fix = source, root, limits, noun, fix
        self.bytes = 0

    def refuse(self, name: str, why: str, fix: str | None = None) -> ArchiveError:
        return ArchiveError(f"{self.source}: {self.noun} {name!r} {why}; "
                            f"refusing to extract ({fix or self.fix})")

    def too_big(self) -> str:
        return f"takes the submission past the {self.limits.max_total_bytes // _MIB} MiB uncompressed limit"

    def path(self, name: str) -> PurePosixPath:
        """The member's relative path; refused when absolute, climbing with ``..`` or unwritable."""
        unified = name.replace("\\", "/")
        if unified.startswith("/") or (len(unified) > 1 and unified[1] == ":"):
            raise self.refuse(name, "has an absolute path", "re-create the archive with relative paths")
        parts = [p for p in unified.split("/") if p not in ("", ".")]
        if ".." in parts:
            raise self.refuse(name, "climbs out of the archive with '..'",
                              "re-create the archive without '..' in paths")
        if "\0" in unified or any(len(os.fsencode(p)) > 255 for p in parts):
            raise self.refuse(name, "has a name no file system accepts (a NUL, or a part over 255 bytes)")
        return PurePosixPath(*parts)

    def check(self, members: Iterable[_Member]) -> dict[PurePosixPath, _Member]:
        """Every member's name, kind and size, and the limits, before anything is written.

        Returns the folders and files to write, by path, without bytecode.
        """
        checked: dict[PurePosixPath, _Member] = {}
        files: set[PurePosixPath] = set()
        dirs: set[PurePosixPath] = set()
        declared = 0
        for count, member in enumerate(members, 1):
            if count > self.limits.max_files:
                raise self.refuse(member.name, f"exceeds the limit of {self.limits.max_files} files")
            path = self.path(member.name)
            if member.kind not in ("dir", "file"):
                target = f" to {member.target!r}" if member.target else ""
                raise self.refuse(member.name, _REFUSED_KINDS[member.kind].format(target=target))
            self._claim(member, path, files, dirs)
            declared += member.size if member.kind == "file" else 0
            if declared > self.limits.max_total_bytes:
                raise self.refuse(member.name, self.too_big())
            if path.parts and not _is_bytecode(path):
                checked[path] = member
        return checked

    def _claim(self, member: _Member, path: PurePosixPath, files: set, dirs: set) -> None:
        """A path is one file or one folder, a file appears once, and nothing is inside a file."""
        if path in files or (member.kind == "file" and path in dirs):
            raise self.refuse(member.name, "appears twice, or as both a file and a folder")
        inside = next((p for p in path.parents if p in files), None)
        if inside is not None:
            raise self.refuse(member.name, f"is inside {inside.as_posix()!r}, which is a file")
        (files if member.kind == "file" else dirs).add(path)
        dirs.update(path.parents)

    def write(self, entries: Iterable[tuple[PurePosixPath, _Member]],
              content: Callable[[_Member], Iterable[bytes]]) -> None:
        """Create the checked folders, and the files from ``content(member)``, counting every byte."""
        for path, member in entries:
            dest = self.root.joinpath(*path.parts)
            if member.kind == "dir":
                dest.mkdir(parents=True, exist_ok=True)
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
            with os.fdopen(os.open(dest, flags, 0o755 if member.executable else 0o644), "wb") as out:
                for chunk in content(member):
                    self.bytes += len(chunk)
                    if self.bytes > self.limits.max_total_bytes:
                        raise self.refuse(member.name, self.too_big())
                    out.write(chunk)


@contextmanager
def _staging(dest: Path) -> Iterator[Path]:
    """A new folder beside ``dest`` that becomes ``dest`` when the block succeeds; else it is removed.
    When another grader made ``dest`` meanwhile (same content), theirs is kept."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        yield tmp
        try:
            os.replace(tmp, dest)
        except OSError:
            if not dest.is_dir():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _chunks(handle: BinaryIO) -> Iterator[bytes]:
    with handle:
        yield from iter(lambda: handle.read(_CHUNK), b"")


# --- archives ----------------------------------------------------------------------------------

_UNREADABLE = (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, lzma.LZMAError,
               gzip.BadGzipFile, NotImplementedError)


@contextmanager
def _readable(archive: Path, what: str) -> Iterator[None]:
    """Decoding errors of the archive become an ArchiveError saying so."""
    try:
        yield
    except _UNREADABLE as exc:
        raise ArchiveError(f"{archive}: not a valid {what} ({exc}); re-create the archive") from None


def extract_archive(archive: Path, dest: Path, limits: ArchiveLimits = ArchiveLimits()) -> Path:
    """Extract the archive's package into the new folder ``dest`` as ``dest/tinytorch``, atomically.

    Every member is checked before anything is written; ArchiveError when the archive is refused.
    """
    dest = Path(dest)
    with _staging(dest) as tmp:
        tree = _Tree(archive, tmp, limits, "member", _REPACK)
        if archive.name.lower().endswith(".zip"):
            _extract_zip(archive, tree)
        else:
            _extract_tar(archive, tree)
    return dest


def _write_package(tree: _Tree, checked: dict[PurePosixPath, _Member],
                   content: Callable[[_Member], Iterable[bytes]]) -> None:
    files = {path for path, member in checked.items() if member.kind == "file"}
    prefix = _package_prefix(files, set(checked) - files, tree.source)
    tree.write(_subtree(checked.items(), prefix), content)


# tar: tarfile reads a pax or GNU long-name header whole, so the raw headers are walked first.
_TAR_PAX = {tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE}
_TAR_METADATA = _TAR_PAX | {tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK}
_PAX_RECORD = re.compile(rb"(\d+) ([^=]+)=")  # tarfile's own pattern
_DECOMPRESSORS = {"gz": gzip.open, "bz2": bz2.open, "xz": lzma.open, "": open}


def _tar_compression(archive: Path) -> str:
    with archive.open("rb") as handle:
        magic = handle.read(6)
    if magic.startswith(b"\x1f\x8b"):
        return "gz"
    if magic.startswith(b"BZh"):
        return "bz2"
    return "xz" if magic.startswith(b"\xfd7zXZ\x00") else ""


def _tar_header(block: bytes) -> tuple[bytes, int] | None:
    """(type, size) of a raw header block, or None where tarfile stops reading (end, bad checksum)."""
    if len(block) < tarfile.BLOCKSIZE or block.count(0) == tarfile.BLOCKSIZE:
        return None
    try:
        if tarfile.nti(block[148:156]) not in tarfile.calc_chksums(block):
            return None
        return block[156:157], tarfile.nti(block[124:136])
    except tarfile.InvalidHeaderError:
        return None


def _blocks(size: int) -> int:
    return -(-size // tarfile.BLOCKSIZE) * tarfile.BLOCKSIZE


def _pax_keywords(data: bytes) -> list[bytes]:
    """The keywords of a pax header's records, parsed the way tarfile parses them."""
    keywords, pos = [], 0
    while (match := _PAX_RECORD.match(data, pos)) and int(match.group(1)) > 0:
        keywords.append(match.group(2))
        pos += int(match.group(1))
    return keywords


def _prescan_tar(stream: BinaryIO, tree: _Tree) -> None:
    """Walk the raw headers as tarfile will, refusing before it reads anything unbounded: metadata
    headers over the limit, pax ``size`` and sparse records, sparse files, too many members or bytes."""
    limits, members, declared = tree.limits, 0, 0
    while (header := _tar_header(block := stream.read(tarfile.BLOCKSIZE))) is not None:
        kind, size = header
        name = block[:100].split(b"\0", 1)[0].decode("utf-8", "replace")
        if kind == tarfile.GNUTYPE_SPARSE:
            raise tree.refuse(name, "is a sparse file, which a tinytorch package never needs")
        if kind in _TAR_METADATA:
            if size > limits.max_header_bytes:
                raise tree.refuse(name, f"is a {size}-byte metadata header (pax or GNU long name), over "
                                  f"the limit of {limits.max_header_bytes // 1024} KiB")
            data = stream.read(_blocks(size))[:size]
            if kind in _TAR_PAX and any(k == b"size" or k.startswith(b"GNU.sparse")
                                        for k in _pax_keywords(data)):
                raise tree.refuse(name, "is a pax header giving a size or a sparse map, which only files "
                                  "over 8 GiB or sparse files need")
            continue
        members += 1
        if members > limits.max_files:
            raise tree.refuse(name, f"exceeds the limit of {limits.max_files} files")
        if kind == tarfile.AREGTYPE and name.endswith("/"):
            continue  # an old-style folder: tarfile reads no data for it
        if kind in tarfile.REGULAR_TYPES or kind not in tarfile.SUPPORTED_TYPES:  # tarfile skips their data
            declared += size
            if declared > limits.max_total_bytes:
                raise tree.refuse(name, tree.too_big())
            stream.seek(_blocks(size), os.SEEK_CUR)


def _tar_kind(info: tarfile.TarInfo) -> str:
    if info.isdir():
        return "dir"
    if info.isreg():
        return "file"
    return "link" if info.issym() or info.islnk() else "special"


def _extract_tar(archive: Path, tree: _Tree) -> None:
    compression = _tar_compression(archive)
    with _readable(archive, "tar archive"):
        with _DECOMPRESSORS[compression](archive, "rb") as stream:
            _prescan_tar(stream, tree)
        with tarfile.open(archive, f"r:{compression}") as tar:
            checked = tree.check(_Member(info.name, _tar_kind(info), info.size, bool(info.mode & 0o100),
                                         info, info.linkname) for info in tar)
            _write_package(tree, checked, lambda member: _chunks(tar.extractfile(member.key)))


# zip: zipfile reads the whole central directory, so its size is checked first.
_ZIP_END, _ZIP64_LOCATOR, _ZIP64_END = b"PK\x05\x06", b"PK\x06\x07", b"PK\x06\x06"


def _zip_directory(archive: Path) -> tuple[int, int] | None:
    """(members, central directory bytes) from the end records, found the way zipfile finds them."""
    with archive.open("rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        handle.seek(max(0, size - (22 + 65535 + 76)))
        tail = handle.read()
    end = len(tail) - 22 if tail[-22:-18] == _ZIP_END and tail[-2:] == b"\0\0" else tail.rfind(_ZIP_END)
    if end < 0 or len(tail) - end < 22:
        return None
    count, directory = struct.unpack("<HI", tail[end + 10:end + 16])
    if end >= 76 and tail[end - 20:end - 16] == _ZIP64_LOCATOR and tail[end - 76:end - 72] == _ZIP64_END:
        count, directory = struct.unpack("<QQ", tail[end - 44:end - 28])
    return count, directory


def _zip_kind(info: zipfile.ZipInfo) -> str:
    mode = info.external_attr >> 16
    if info.is_dir():
        return "dir"
    if stat.S_ISLNK(mode):
        return "link"
    if stat.S_IFMT(mode) not in (0, stat.S_IFREG):
        return "special"
    return "encrypted" if info.flag_bits & 0x1 else "file"


def _extract_zip(archive: Path, tree: _Tree) -> None:
    directory = _zip_directory(archive)
    limit = tree.limits.max_zip_directory_bytes
    if directory is not None and (directory[0] > tree.limits.max_files or directory[1] > limit):
        raise ArchiveError(f"{archive}: its central directory lists {directory[0]} members in {directory[1]} "
                           f"bytes, over the limit of {tree.limits.max_files} files or {limit // _MIB} MiB; "
                           f"refusing to extract ({_REPACK})")
    with _readable(archive, "zip file"), zipfile.ZipFile(archive) as zf:
        checked = tree.check(_Member(info.filename, _zip_kind(info), info.file_size,
                                     bool((info.external_attr >> 16) & 0o100), info)
                             for info in zf.infolist())
        _write_package(tree, checked, lambda member: _chunks(zf.open(member.key)))


# --- git repositories --------------------------------------------------------------------------

_COMMIT = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_GIT_KINDS = {b"100644": "file", b"100664": "file", b"100755": "file", b"120000": "link",
              b"160000": "submodule"}
_NOT_COPIED = ("info/commit-graph", "info/http-alternates", "pack/multi-pack-index")


def _git_dir(repo: Path) -> Path:
    """The repository's own git folder: the real ``.git`` folder of a working copy, or a bare repository."""
    dot = repo / ".git"
    if not os.path.lexists(dot):
        return repo
    if stat.S_ISDIR(dot.lstat().st_mode):
        return dot
    raise SubmissionError(f"{repo}: .git is a link or a 'gitdir:' file pointing elsewhere (a worktree or a "
                          "submodule's checkout), not a repository; clone it and pass the clone")


def _git_file(gitdir: Path, relative: str) -> Path | None:
    """``gitdir/relative`` when it is a regular file reached through no link, else None."""
    path = gitdir
    for part in relative.split("/"):
        path = path / part
        if not os.path.lexists(path) or stat.S_ISLNK(path.lstat().st_mode):
            return None
    return path if stat.S_ISREG(path.lstat().st_mode) else None


def _read_ref(gitdir: Path, relative: str) -> str | None:
    path = _git_file(gitdir, relative)
    if path is None:
        return None
    with path.open("rb") as handle:
        return handle.read(4096).decode("utf-8", "replace").strip()


def _packed_ref(gitdir: Path, ref: str) -> str | None:
    path = _git_file(gitdir, "packed-refs")
    if path is None:
        return None
    with path.open("rb") as handle:
        for line in iter(lambda: handle.readline(4096), b""):
            commit, _, name = line.strip().partition(b" ")
            if name == ref.encode():
                return commit.decode("ascii", "replace")
    return None


def head_commit(repo: Path) -> str:
    """The commit HEAD names, read from the repository's files: no git command runs in the repository."""
    gitdir = _git_dir(repo)
    value = _read_ref(gitdir, "HEAD")
    for _ in range(5):  # HEAD -> refs/heads/main -> a commit, through a few symbolic refs at most
        if value is None or not value.startswith("ref: "):
            break
        ref = value[5:].strip()
        if not ref.startswith("refs/") or any(p in ("", ".", "..") for p in ref.split("/")) or "\0" in ref:
            break
        value = _read_ref(gitdir, ref) or _packed_ref(gitdir, ref)
    if value is None or not _COMMIT.fullmatch(value):
        raise SubmissionError(f"{repo}: git repository without a HEAD commit (HEAD names no commit found in "
                              "its refs); commit the submission first: its HEAD commit is what is graded")
    return value


def _copy_objects(repo: Path, dest: Path, limits: ArchiveLimits) -> None:
    """Copy the repository's object store into ``dest``: regular files only, capped, and without the
    files that would make git read elsewhere (alternates) or trust a cache (commit-graph, midx)."""
    source = _git_dir(repo) / "objects"
    if not os.path.isdir(source) or os.path.islink(source):
        raise SubmissionError(f"{repo}: {source} is missing or a link, so this is no complete repository; "
                              "clone it and pass the clone")
    files = size = 0
    for directory, dirnames, filenames in os.walk(source, onerror=_raise):
        for entry in dirnames + filenames:
            path = Path(directory, entry)
            relative, info = path.relative_to(source).as_posix(), path.lstat()
            if stat.S_ISDIR(info.st_mode):
                (dest / relative).mkdir(exist_ok=True)
            elif not stat.S_ISREG(info.st_mode):
                raise SubmissionError(f"{repo}: {path} is a link or a special file, which git never puts in "
                                      "its object store; clone the repository and pass the clone")
            elif relative == "info/alternates" and info.st_size:
                raise SubmissionError(f"{repo}: {path} borrows objects from another repository; make "
                                      "it self-contained (`git repack -a -d`, then delete that file)")
            elif not relative.startswith(_NOT_COPIED) and relative != "info/alternates":
                files, size = files + 1, size + info.st_size
                if files > limits.max_repository_files or size > limits.max_repository_bytes:
                    raise SubmissionError(
                        f"{repo}: its object store holds more than {limits.max_repository_files} files or "
                        f"{limits.max_repository_bytes // _MIB} MiB; run `git gc` in it, or submit an "
                        "archive of the tinytorch/ folder instead")
                with open(os.open(path, os.O_RDONLY | os.O_NOFOLLOW), "rb") as src, \
                        open(dest / relative, "xb") as out:
                    shutil.copyfileobj(src, out, _CHUNK)


def _raise(error: OSError) -> None:
    raise error


class _Git:
    """git, run on a fresh bare repository of ours: our config only, never a submission's."""

    def __init__(self, repo: Path, work: Path, sha256: bool):
        self.repo = repo
        home = work / "home"
        home.mkdir()
        self.dir = work / "repo.git"
        self.cwd = work
        self.env = {"PATH": os.environ.get("PATH", os.defpath), "HOME": str(home),
                    "XDG_CONFIG_HOME": str(home), "GIT_DIR": str(self.dir),
                    "GIT_CEILING_DIRECTORIES": str(work), "GIT_CONFIG_NOSYSTEM": "1",
                    "GIT_CONFIG_GLOBAL": os.devnull, "GIT_ATTR_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0",
                    "GIT_NO_LAZY_FETCH": "1", "GIT_NO_REPLACE_OBJECTS": "1", "LC_ALL": "C"}
        self.command = ["git", "-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false",
                        "-c", "core.attributesFile=/dev/null", "-c", "core.commitGraph=false"]
        init = ["init", "--quiet", "--bare", "--template=", *(["--object-format=sha256"] if sha256 else [])]
        done = subprocess.run([*self.command, *init], capture_output=True, env=self.env, cwd=self.cwd)
        if done.returncode != 0:
            error = done.stderr.decode(errors="replace").strip()
            raise SubmissionError(f"{repo}: cannot read git repositories here: `git init` of a scratch "
                                  f"repository failed ({error}); check that git works")
        self.objects = self.dir / "objects"

    def popen(self, *args: str, stdin: int | None = None, stderr: int = subprocess.PIPE) -> subprocess.Popen:
        return subprocess.Popen([*self.command, *args], stdin=stdin, stdout=subprocess.PIPE, stderr=stderr,
                                env=self.env, cwd=self.cwd)

    def ls_tree(self, commit: str, limit: int) -> list[_Member]:
        """Every path of the commit's tree (at most ``limit`` + 1 of them) as members."""
        records, pending = [], b""
        with self.popen("ls-tree", "-r", "-z", "-l", "--full-tree", commit) as proc:
            for chunk in iter(lambda: proc.stdout.read1(_CHUNK), b""):
                *done, pending = (pending + chunk).split(b"\0")
                records.extend(done)
                if len(records) > limit or len(pending) > _CHUNK:
                    proc.kill()
                    break
            error = proc.stderr.read(4096).decode(errors="replace").strip()
            code = proc.wait()
        if len(records) > limit or len(pending) > _CHUNK:
            raise SubmissionError(f"{self.repo}: HEAD holds more than {limit} paths or a path over {_CHUNK} "
                                  "bytes; submit an archive of the tinytorch/ folder instead")
        if code != 0:
            raise SubmissionError(f"{self.repo}: HEAD commit {commit} cannot be read "
                                  f"({error or f'exit {code}'}); make sure the repository is complete "
                                  "(not a partial clone) and committed")
        return [_git_member(record) for record in records]

    @contextmanager
    def blobs(self) -> Iterator[Callable[[_Member], Iterator[bytes]]]:
        """A reader of blob contents through one ``git cat-file --batch``, one object at a time."""
        with self.popen("cat-file", "--batch", stdin=subprocess.PIPE, stderr=subprocess.DEVNULL) as proc:
            try:
                yield lambda member: _blob_chunks(proc, self.repo, member)
            finally:
                proc.kill()


def _git_member(record: bytes) -> _Member:
    meta, _, path = record.partition(b"\t")
    mode, _, blob, size = meta.split()
    return _Member(os.fsdecode(path), _GIT_KINDS.get(mode, "special"), int(size) if size.isdigit() else 0,
                   mode == b"100755", blob.decode("ascii"))


def _blob_chunks(proc: subprocess.Popen, repo: Path, member: _Member) -> Iterator[bytes]:
    proc.stdin.write(member.key.encode() + b"\n")
    proc.stdin.flush()
    header = proc.stdout.readline(256).split()
    if header[1:] != [b"blob", str(member.size).encode()]:
        raise SubmissionError(f"{repo}: {member.name!r} in HEAD cannot be read (git answered {header!r}); "
                              "make sure the repository is complete")
    left = member.size
    while left:
        chunk = proc.stdout.read(min(_CHUNK, left))
        if not chunk:
            raise SubmissionError(f"{repo}: git stopped while reading {member.name!r}; grade again")
        left -= len(chunk)
        yield chunk
    proc.stdout.read(1)  # the newline after each object


def export_git_head(repo: Path, commit: str, dest: Path, limits: ArchiveLimits = ArchiveLimits()) -> Path:
    """Export the package of ``commit`` (HEAD) into the new folder ``dest`` as ``dest/tinytorch``.

    git reads a copy of the repository's objects from a fresh repository of ours, so no config,
    attribute, filter, hook or alias of the submission is ever read. Links and submodules in the
    package are refused; those elsewhere in the repository are ignored.
    """
    dest = Path(dest)
    with _staging(dest) as tmp, tempfile.TemporaryDirectory(prefix=".git-", dir=dest.parent) as work:
        git = _Git(repo, Path(work), sha256=len(commit) == 64)
        _copy_objects(repo, git.objects, limits)
        leaves = {PurePosixPath(m.name): m for m in git.ls_tree(commit, limits.max_repository_files)}
        # A link or submodule may stand where the package folder should be: seen as a folder here,
        # it is then refused by name below instead of "no package found".
        standins = {path / "__init__.py" for path, member in leaves.items() if member.kind != "file"}
        prefix = _package_prefix(set(leaves) | standins, set(), repo)
        tree = _Tree(repo, tmp, limits, "path", "fix it in the repository, commit, and grade again")
        checked = tree.check(m for path, m in leaves.items() if path == prefix or prefix in path.parents)
        with git.blobs() as blob:
            tree.write(_subtree(checked.items(), prefix), blob)
    return dest


# --- folders -----------------------------------------------------------------------------------

def _directory_members(package: Path) -> Iterator[_Member]:
    """A checked package folder's entries as members under ``tinytorch/`` (no link is followed)."""
    yield _Member("tinytorch", "dir")
    for directory, dirnames, filenames in os.walk(package, onerror=_raise):
        for entry in dirnames + filenames:
            path = Path(directory, entry)
            info = path.lstat()
            name = (_PACKAGE / path.relative_to(package).as_posix()).as_posix()
            yield _Member(name, _mode_kind(info.st_mode), info.st_size, bool(info.st_mode & 0o100), path)


def _file_chunks(member: _Member) -> Iterator[bytes]:
    return _chunks(open(os.open(member.key, os.O_RDONLY | os.O_NOFOLLOW), "rb"))


def _snapshot(package: Path, dest: Path, digest: str, limits: ArchiveLimits) -> None:
    """Copy a checked package folder (``check_package``) into the new folder ``dest`` as
    ``dest/tinytorch``, without bytecode; the copy must hash to ``digest``, the folder's tree hash."""
    with _staging(dest) as tmp:
        tree = _Tree(package, tmp, limits, "file", "remove what the package does not need, such as data")
        tree.write(tree.check(_directory_members(package)).items(), _file_chunks)
        if tree_hash(tmp / "tinytorch") != digest:
            raise SubmissionError(f"{package} changed while it was being copied; grade again once it is "
                                  "complete")


# --- resolving arguments -----------------------------------------------------------------------

def _resolve_one(path: Path, name: str, cache_dir: Path, limits: ArchiveLimits) -> ResolvedSubmission:
    """Extract, export or copy the submission's package into the cache, once per content, as
    ``<name>-<archive|commit|tree>-<id>/<name>/tinytorch`` (the folder a job sees keeps the name)."""
    if path.is_symlink():
        raise SubmissionError(f"{path} is a symbolic link (to {os.readlink(path)!r}); a submission must be "
                              "the folder, archive or repository itself: pass the path it points to if you "
                              "trust it")
    if is_archive(path):
        dest = cache_dir / f"{name}-archive-{_content_id(path)}" / name
        if not dest.is_dir():
            extract_archive(path, dest, limits)
    elif is_git_repository(path):
        commit = head_commit(path)
        dest = cache_dir / f"{name}-commit-{commit[:16]}" / name
        if not dest.is_dir():
            export_git_head(path, commit, dest, limits)
    elif path.is_dir():
        package = _directory_package(path)
        check_package(package)
        digest = tree_hash(package)
        dest = cache_dir / f"{name}-tree-{digest[7:23]}" / name
        if not dest.is_dir():
            _snapshot(package, dest, digest, limits)
    else:
        raise SubmissionError(f"{path}: neither a folder, an archive ({', '.join(ARCHIVE_SUFFIXES)}) nor a "
                              "git repository; pass the submission's folder or archive")
    digest = tree_hash(dest / "tinytorch")
    return ResolvedSubmission(Submission(name=name, root=dest, hash=digest), path, digest)


def _resolve_or_refuse(path: Path, cache_dir: Path, limits: ArchiveLimits) -> ResolvedSubmission:
    """The resolved submission, or one with the ``problem`` that keeps it from being graded."""
    name = check_name(submission_name(path), path)
    try:
        return _resolve_one(path, name, cache_dir, limits)
    except SubmissionError as exc:
        problem = str(exc)
    except OSError as exc:
        problem = f"{path}: could not be read ({exc}); check the submission's files, then grade again"
    return ResolvedSubmission(Submission(name=name, root=path), path, "", problem)


def _looks_like_submission(path: Path) -> bool:
    return (is_archive(path) or (path.is_dir() and (is_git_repository(path) or _is_package(path)
            or (path / "tinytorch" / "__init__.py").is_file())))


def _is_package(path: Path) -> bool:
    return (path / "__init__.py").is_file() and (path / "core").is_dir()


def expand_arguments(paths: list[Path]) -> list[Path]:
    """Each argument, or for a folder of submissions (a class), each entry inside it, sorted."""
    expanded: list[Path] = []
    for path in paths:
        path = Path(path).expanduser().absolute()
        if not os.path.lexists(path):
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
    """Resolve every argument; names must be unique across the batch.

    A missing path, a name that cannot be a file name or two submissions with one name raise
    SubmissionError (the batch cannot start); a submission whose content is refused comes back
    with its ``problem``.
    """
    resolved = [_resolve_or_refuse(p, Path(cache_dir), limits) for p in expand_arguments(paths)]
    seen: dict[str, Path] = {}
    for item in resolved:
        if item.name in seen:
            raise SubmissionError(f"two submissions are named {item.name!r}: {seen[item.name]} and "
                                  f"{item.source}; rename one (the name is the folder or archive stem)")
        seen[item.name] = item.source
    return resolved
