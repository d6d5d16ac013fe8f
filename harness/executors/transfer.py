"""Trees as bytes between the client and a Dask worker: plain tar, regular files and directories only.

``pack_tree`` walks without following links (a link, device or FIFO is left out, as the docker
backend's /out copy leaves them out), skips bytecode when asked, and stops at ``cap_bytes`` of
file content. ``unpack_tree`` is the docker backend's bounded, link-free /out extractor
(``harness.runners.docker.out.extract_out``), so a tree coming back from a worker is taken with
the same limits as one coming out of a local container.
"""

from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path

from harness.runners.docker.out import extract_out

MiB = 1024 * 1024
TAR_OVERHEAD_PER_ENTRY = 1024  # header block(s) and padding of one member, generously


class TreeTooLarge(Exception):
    """The tree holds more file bytes than the cap; nothing is packed."""


def _entries(root: Path, skip_bytecode: bool):
    """(relative posix path, lstat) of every entry below ``root``, parents first, links not followed."""
    pending = [""]
    while pending:
        relative = pending.pop()
        with os.scandir(root / relative) as it:
            entries = sorted(it, key=lambda e: e.name)
        for entry in entries:
            path = f"{relative}/{entry.name}" if relative else entry.name
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISDIR(info.st_mode):
                if skip_bytecode and entry.name == "__pycache__":
                    continue
                yield path, info
                pending.append(path)
            elif stat.S_ISREG(info.st_mode):
                if skip_bytecode and entry.name.endswith((".pyc", ".pyo")):
                    continue
                yield path, info


def pack_tree(root: Path, *, cap_bytes: int, skip_bytecode: bool = False) -> bytes:
    """The regular files and directories under ``root`` as an uncompressed tar (normalised modes,
    owners and times, so equal trees give equal bytes); TreeTooLarge past ``cap_bytes`` of content."""
    root = Path(root)
    buffer = io.BytesIO()
    total = 0
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for relative, info in _entries(root, skip_bytecode):
            member = tarfile.TarInfo(relative)
            member.mtime, member.uid, member.gid, member.uname, member.gname = 0, 0, 0, "", ""
            if stat.S_ISDIR(info.st_mode):
                member.type, member.mode = tarfile.DIRTYPE, 0o755
                archive.addfile(member)
                continue
            total += info.st_size
            if total > cap_bytes:
                raise TreeTooLarge(f"more than {cap_bytes / MiB:.1f} MiB of files under {root}")
            fd = os.open(root / relative, os.O_RDONLY | os.O_NOFOLLOW)
            with os.fdopen(fd, "rb") as handle:
                data = handle.read(info.st_size)  # the run has ended: the size holds
            member.size, member.mode = len(data), 0o644
            archive.addfile(member, io.BytesIO(data))
    return buffer.getvalue()


def unpack_tree(data: bytes, dest: Path, *, cap_bytes: int, readable: bool = False) -> list[str]:
    """Write the tree of ``data`` under ``dest`` (an existing, empty directory); the notes name the
    members left out (links, paths leaving ``dest``). Raises ``OutProblem`` past a limit,
    ``NoTarStream`` for bytes that are not a whole tar. ``readable``: make every file 0644 and every
    directory 0755 (the docker sandbox user reads mounts as "others")."""
    notes = extract_out([data], Path(dest), cap_bytes)
    if readable:
        for directory, _dirnames, filenames in os.walk(dest):
            os.chmod(directory, 0o755)
            for name in filenames:
                os.chmod(os.path.join(directory, name), 0o644)
    return notes


def tar_cap(content_bytes: int, entries: int = 10_000) -> int:
    """Bytes a tar of at most ``content_bytes`` of files in at most ``entries`` members can take."""
    return content_bytes + entries * TAR_OVERHEAD_PER_ENTRY + 2 * MiB
