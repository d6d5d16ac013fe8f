"""Unpack a container's /out from a tar stream: size-capped, plain files and directories only."""

from __future__ import annotations

import os
import tarfile
import tempfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

_SPOOL_IN_MEMORY = 8 * 1024 * 1024


class OutCopyError(Exception):
    """The /out stream could not be copied (over the cap, or not a tar); the message says which."""


def _spool(chunks: Iterable[bytes], cap_bytes: int) -> tempfile.SpooledTemporaryFile:
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY)
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if total > cap_bytes:
            spool.close()
            raise OutCopyError(f"/out is larger than its {cap_bytes / (1024 * 1024):.1f} MiB cap; not copied")
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


def extract_out(chunks: Iterable[bytes], dest: Path, cap_bytes: int) -> list[str]:
    """Write the regular files and directories of a tar stream under ``dest``.

    Links, devices and paths that leave ``dest`` are skipped (never followed); the notes returned
    name each skipped member. Raises OutCopyError when the stream is over ``cap_bytes`` or not a tar.
    """
    notes: list[str] = []
    with _spool(chunks, cap_bytes) as spool:
        try:
            archive = tarfile.open(fileobj=spool, mode="r:")
            members = archive.getmembers()
        except tarfile.TarError as exc:
            raise OutCopyError(f"/out could not be read as a tar stream ({exc})") from None
        for member in members:
            relative = _safe_relative(member.name)
            if relative is None:
                notes.append(f"skipped {member.name!r}: path leaves /out")
            elif member.isdir():
                (dest / relative).mkdir(parents=True, exist_ok=True)
            elif member.isfile():
                target = dest / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                source = archive.extractfile(member)
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
                with os.fdopen(fd, "wb") as handle:
                    while block := source.read(1 << 20):
                        handle.write(block)
            else:
                kind = "symlink" if member.issym() else "hard link" if member.islnk() else "special file"
                notes.append(f"skipped {str(relative)!r}: a {kind}, not a regular file")
    return notes
