"""Unpack a container's /out from a tar stream: size-capped, plain files and directories only.

Two kinds of failure: an ``OutProblem`` is what the script left in /out (over the size cap, past
the limits of ``harness.judging.outfiles``, a name the host cannot hold), the submission's fault; a
``NoTarStream`` means the finishing step sent no usable tar at all (it could not start or was
killed), which says nothing about the script's output.
"""

from __future__ import annotations

import errno
import os
import tarfile
import tempfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from harness.judging.outfiles import OutProblem, check_out_path, shown_path

_SPOOL_IN_MEMORY = 8 * 1024 * 1024
# Errors of the host itself while writing the copy: the harness's trouble, not the script's.
_HOST_TROUBLE = {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS, errno.ENOMEM, errno.EMFILE, errno.ENFILE}


class NoTarStream(Exception):
    """The finishing step sent no readable tar stream (empty, cut short or garbage)."""


def _spool(chunks: Iterable[bytes], cap_bytes: int) -> tempfile.SpooledTemporaryFile:
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY)
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if total > cap_bytes:
            spool.close()
            raise OutProblem(f"/out is larger than its {cap_bytes / (1024 * 1024):.1f} MiB cap; not copied: "
                             "write less to it")
        spool.write(chunk)
    spool.seek(0)
    return spool


def _safe_relative(name: str) -> PurePosixPath | None:
    """The member's path below /out, or None when it is absolute or climbs out with '..'."""
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts:
        return None
    parts = [part for part in path.parts if part != "."]
    return PurePosixPath(*parts) if parts else PurePosixPath(".")


def _write_member(archive: tarfile.TarFile, member: tarfile.TarInfo, target: Path) -> None:
    if member.isdir():
        target.mkdir(parents=True, exist_ok=True)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    source = archive.extractfile(member)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as handle:
        while block := source.read(1 << 20):
            handle.write(block)


def _skipped(member: tarfile.TarInfo, relative: PurePosixPath) -> str:
    kind = "symlink" if member.issym() else "hard link" if member.islnk() else "special file"
    return f"skipped {str(relative)!r}: a {kind}, not a regular file"


def extract_out(chunks: Iterable[bytes], dest: Path, cap_bytes: int) -> list[str]:
    """Write the regular files and directories of a tar stream under ``dest``.

    Links, devices and paths that leave ``dest`` are skipped (never followed); the notes returned
    name each skipped member. Raises OutProblem when the stream is over ``cap_bytes`` or a member
    is past a limit or cannot be written here, NoTarStream when the stream is not a whole tar.
    """
    notes: list[str] = []
    with _spool(chunks, cap_bytes) as spool:
        try:
            with tarfile.open(fileobj=spool, mode="r:") as archive:
                for count, member in enumerate(archive, start=1):
                    note = _extract_member(archive, member, dest, count)
                    if note:
                        notes.append(note)
        except tarfile.TarError as exc:
            raise NoTarStream(f"/out could not be read as a tar stream ({exc})") from None
    return notes


def _extract_member(archive: tarfile.TarFile, member: tarfile.TarInfo, dest: Path, count: int) -> str | None:
    """Write one member (or say why it is skipped); OutProblem when it is past a limit or unwritable."""
    relative = _safe_relative(member.name)
    if relative is None:
        return f"skipped {member.name!r}: path leaves /out"
    check_out_path(str(relative), count)
    if not (member.isdir() or member.isfile()):
        return _skipped(member, relative)
    try:
        _write_member(archive, member, dest / relative)
    except OSError as exc:
        if exc.errno in _HOST_TROUBLE:
            raise
        raise OutProblem(f"/out/{shown_path(relative)} could not be copied to the host ({exc.strerror}); "
                         "write plain, flat files") from None
    return None
