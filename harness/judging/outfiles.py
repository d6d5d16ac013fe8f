"""What came out of a sandbox: files read by plain name (no symlinks, size-capped), the shape of
the whole /out tree checked against limits, and trees removed however deep or locked they are.

Whatever a script leaves in /out is its own business: a tree past a limit is an ``OutProblem``
(judged as the submission's failure), never an error of the harness.
"""

from __future__ import annotations

import os
import re
import secrets
import stat
from pathlib import Path, PurePosixPath

_PLAIN_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
MAX_OUT_ENTRIES = 10_000  # files and directories below /out
MAX_OUT_DEPTH = 32  # names in one path below /out
MAX_OUT_PATH = 1024  # characters of one path below /out
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW


class OutFileError(Exception):
    """A sandbox output file is missing, oversized or not a plain file; the message says which."""


class MissingOutFile(OutFileError):
    """The script did not write the file at all."""


class OutProblem(Exception):
    """What the script left in /out cannot be taken (past a limit, unreadable); the message says
    what and what to do. The submission's fault, never the harness's."""


def shown_path(path) -> str:
    """``path`` for a message: bytes that are not UTF-8 shown as ``\\xNN`` (a lone surrogate would
    make the report unwritable)."""
    return os.fsencode(path).decode("utf-8", errors="backslashreplace")


def check_out_path(relative: str, count: int) -> None:
    """Raise OutProblem when ``relative`` (a path below /out, the ``count``-th entry) is past a limit."""
    shown = f"'{shown_path(relative[:60])}'" + ("..." if len(relative) > 60 else "")
    if count > MAX_OUT_ENTRIES:
        raise OutProblem(f"/out holds more than {MAX_OUT_ENTRIES} files and directories; "
                         "write a few flat files")
    if len(relative) > MAX_OUT_PATH:
        raise OutProblem(f"/out holds a path longer than {MAX_OUT_PATH} characters ({shown}); "
                         "write flat files")
    if len(PurePosixPath(relative).parts) > MAX_OUT_DEPTH:
        raise OutProblem(f"/out holds a path more than {MAX_OUT_DEPTH} directories deep ({shown}); "
                         "write flat files")


def out_tree_problem(root: Path) -> str | None:
    """Why the tree a script left at ``root`` cannot be judged (past a limit, unreadable), or None.

    Walks without following links and stops at the first problem, so it costs little however
    big the tree is.
    """
    if root.is_symlink():
        return "/out was replaced by a symlink; write files into it instead"
    pending, count = [""], 0
    try:
        while pending:
            relative = pending.pop()
            try:
                with os.scandir(root / relative) as entries:
                    for entry in entries:
                        count += 1
                        path = f"{relative}/{entry.name}" if relative else entry.name
                        check_out_path(path, count)
                        if entry.is_dir(follow_symlinks=False):
                            pending.append(path)
            except OSError as exc:
                raise OutProblem(f"/out/{shown_path(relative)} could not be read ({exc.strerror}); "
                                 "leave what you write in /out readable") from None
    except OutProblem as exc:
        return str(exc)
    return None


def remove_tree(root: Path | None) -> None:
    """Remove a tree a sandboxed script wrote, however deep or locked; best effort, never raises.

    ``shutil.rmtree`` recurses (a tree thousands of directories deep overflows it) and skips
    directories without permissions. Here each directory met is made accessible and moved up into
    ``root`` itself under a fresh name before it is emptied, so no path is longer than two names.
    """
    if root is None:
        return
    try:
        root_fd = os.open(root, _DIR_FLAGS)
    except FileNotFoundError:
        return
    except OSError:  # a link or a file where the tree was: remove just that
        _quietly(os.unlink, root)
        return
    try:
        _quietly(os.fchmod, root_fd, 0o700)
        _empty_flat(root_fd)
    finally:
        os.close(root_fd)
    _quietly(os.rmdir, root)


def _empty_flat(root_fd: int) -> None:
    """Empty the directory ``root_fd``: files are unlinked where they are, directories moved into
    the root under fresh names and emptied in turn."""
    prefix = f".harness-rm-{secrets.token_hex(4)}-"
    pending: list[str | None] = [None]  # None: the root itself
    moved = 0
    while pending:
        name = pending.pop()
        fd = root_fd if name is None else _open_accessible(root_fd, name)
        if fd is None:
            continue
        try:
            for entry in _entries(fd):
                if not entry.is_dir(follow_symlinks=False):
                    _quietly(os.unlink, entry.name, dir_fd=fd)
                    continue
                moved += 1
                if _move_up(fd, entry.name, root_fd, f"{prefix}{moved}"):
                    pending.append(f"{prefix}{moved}")
        finally:
            if fd != root_fd:
                os.close(fd)
        if name is not None:
            _quietly(os.rmdir, name, dir_fd=root_fd)


def _open_accessible(root_fd: int, name: str) -> int | None:
    _quietly(os.chmod, name, 0o700, dir_fd=root_fd)
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=root_fd)
    except OSError:
        return None


def _entries(fd: int) -> list[os.DirEntry]:
    try:
        return list(os.scandir(fd))
    except OSError:
        return []


def _move_up(fd: int, name: str, root_fd: int, fresh: str) -> bool:
    """Move directory ``name`` of ``fd`` into the root as ``fresh``; made writable first, as
    moving a directory rewrites its '..'."""
    try:
        os.chmod(name, 0o700, dir_fd=fd)
        os.rename(name, fresh, src_dir_fd=fd, dst_dir_fd=root_fd)
    except OSError:
        return False
    return True


def _quietly(function, *args, **kwargs) -> None:
    try:
        function(*args, **kwargs)
    except OSError:
        pass


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
