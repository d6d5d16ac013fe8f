"""Unpacking /out on the host: only plain files and directories, never outside dest, capped."""

from __future__ import annotations

import io
import tarfile

import pytest

from harness.runners.docker_out import OutCopyError, extract_out


def _tar(*members: tuple[str, str, bytes | str]) -> bytes:
    """(name, kind, payload): kind 'file' (bytes), 'dir', 'symlink' or 'hardlink' (target str)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, kind, payload in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                info.size = len(payload)
                archive.addfile(info, io.BytesIO(payload))
                continue
            types = {"dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE}
            info.type = types[kind]
            info.linkname = payload if kind != "dir" else ""
            archive.addfile(info)
    return buffer.getvalue()


def _chunks(data: bytes, size: int = 1000):
    return (data[i:i + size] for i in range(0, len(data), size))


def test_files_and_directories_are_copied(tmp_path):
    data = _tar(("./", "dir", ""), ("./a", "dir", ""), ("./a/m.jsonl", "file", b"{}\n"),
                ("./p.npy", "file", b"NPY"))
    assert extract_out(_chunks(data), tmp_path, 1 << 20) == []
    assert (tmp_path / "a" / "m.jsonl").read_bytes() == b"{}\n"
    assert (tmp_path / "p.npy").read_bytes() == b"NPY"


def test_links_and_escaping_paths_are_skipped_with_notes(tmp_path):
    outside = tmp_path.parent / f"{tmp_path.name}-escaped"
    data = _tar(("./link", "symlink", "/etc/passwd"), ("./hard", "hardlink", "/etc/shadow"),
                ("../escaped", "file", b"x"), (f"/{outside}", "file", b"x"), ("./ok", "file", b"ok"))
    notes = extract_out(_chunks(data), tmp_path, 1 << 20)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok"]
    assert not outside.exists() and not (tmp_path.parent / "escaped").exists()
    assert notes == ["skipped 'link': a symlink, not a regular file",
                     "skipped 'hard': a hard link, not a regular file",
                     "skipped '../escaped': path leaves /out", f"skipped '/{outside}': path leaves /out"]


def test_over_the_cap_is_refused(tmp_path):
    data = _tar(("./big", "file", b"\0" * 300_000))
    with pytest.raises(OutCopyError, match="larger than its 0.1 MiB cap"):
        extract_out(_chunks(data), tmp_path, 100_000)
    assert list(tmp_path.iterdir()) == []


def test_garbage_is_a_clear_error(tmp_path):
    with pytest.raises(OutCopyError, match="could not be read as a tar stream"):
        extract_out([b"this is not a tar archive" * 40], tmp_path, 1 << 20)
