"""Read files that came out of a sandbox: by plain name, no symlinks, size-capped."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

_PLAIN_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


class OutFileError(Exception):
    """A sandbox output file is missing, oversized or not a plain file; the message says which."""


class MissingOutFile(OutFileError):
    """The script did not write the file at all."""


def read_capped(out_dir: Path | None, name: str, cap_bytes: int) -> bytes:
    """The bytes of ``out_dir/name``; OutFileError if absent, a symlink/special file, or over the cap."""
    if not _PLAIN_NAME.match(name) or name in (".", ".."):
        raise OutFileError(f"{name!r} is not a plain file name")
    if out_dir is None:
        raise MissingOutFile(f"{name} was not written (the run produced no output directory)")
    path = Path(out_dir) / name
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        raise MissingOutFile(f"{name} was not written by the script") from None
    except OSError as exc:
        raise OutFileError(f"{name} cannot be read safely ({exc.strerror}; symlinks are refused)") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise OutFileError(f"{name} is not a regular file")
        if info.st_size > cap_bytes:
            raise OutFileError(f"{name} is {_size(info.st_size)}, over the {_size(cap_bytes)} cap; not read")
        return handle.read(cap_bytes + 1)[:cap_bytes]


def _size(n: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} bytes"
