"""Unpacking /out on the host: only plain files and directories, never outside dest, capped,
and whatever the stream holds, either a copy, the submission's OutProblem or NoTarStream."""

from __future__ import annotations

import io
import os
import tarfile

import pytest

from harness.judging.outfiles import MAX_OUT_DEPTH, MAX_OUT_ENTRIES, OutProblem
from harness.runners.docker.out import NoTarStream, extract_out


def _tar(*members: tuple[str, str, bytes | str]) -> bytes:
    """(name, kind, payload): kind 'file' (bytes), 'dir', 'fifo', 'symlink' or 'hardlink' (target str)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as archive:
        for name, kind, payload in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                info.size = len(payload)
                archive.addfile(info, io.BytesIO(payload))
                continue
            types = {"dir": tarfile.DIRTYPE, "fifo": tarfile.FIFOTYPE, "symlink": tarfile.SYMTYPE,
                     "hardlink": tarfile.LNKTYPE}
            info.type = types[kind]
            info.linkname = payload if kind in ("symlink", "hardlink") else ""
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
    with pytest.raises(OutProblem, match="larger than its 0.1 MiB cap"):
        extract_out(_chunks(data), tmp_path, 100_000)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("stream", [b"", b"this is not a tar archive" * 40], ids=["empty", "garbage"])
def test_no_tar_stream_is_told_apart_from_the_scripts_output(tmp_path, stream):
    with pytest.raises(NoTarStream, match="could not be read as a tar stream"):
        extract_out([stream], tmp_path, 1 << 20)


def test_a_stream_cut_short_is_no_tar_stream(tmp_path):
    data = _tar(("./a.bin", "file", b"x" * 100_000))
    with pytest.raises(NoTarStream):
        extract_out([data[:20_000]], tmp_path, 1 << 20)


def test_a_path_longer_than_the_host_allows_is_the_scripts_problem(tmp_path):
    deep = "/".join(["d" * 100] * 45)  # 4544 characters: past PATH_MAX, where the host's mkdir fails
    with pytest.raises(OutProblem, match=r"/out holds a path longer than 1024 characters \('d{60}'\.\.\.\); "
                                         "write flat files"):
        extract_out(_chunks(_tar((f"./{deep}/x", "file", b"x"))), tmp_path, 1 << 20)


def test_too_deep_and_too_many_are_the_scripts_problem(tmp_path):
    deep = "/".join(["d"] * (MAX_OUT_DEPTH + 1))
    with pytest.raises(OutProblem, match=f"more than {MAX_OUT_DEPTH} directories deep"):
        extract_out(_chunks(_tar((deep, "dir", ""))), tmp_path / "a", 1 << 20)
    many = _tar(*[(f"./f{i}", "file", b"") for i in range(MAX_OUT_ENTRIES + 1)])
    with pytest.raises(OutProblem, match=f"more than {MAX_OUT_ENTRIES} files and directories; write a few"):
        extract_out(_chunks(many, 1 << 20), tmp_path / "b", 16 << 20)


def test_odd_members_are_skipped_and_unwritable_names_are_the_scripts_problem(tmp_path):
    undecodable = b"caf\xe9.npy".decode("utf-8", "surrogateescape")  # latin-1 bytes, not UTF-8
    notes = extract_out(_chunks(_tar(("./pipe", "fifo", ""), (f"./{undecodable}", "file", b"x"))),
                        tmp_path, 1 << 20)
    assert notes == ["skipped 'pipe': a special file, not a regular file"]
    assert os.listdir(os.fsencode(tmp_path)) == [b"caf\xe9.npy"]
    clash = _tar(("./a", "file", b"x"), ("./a/b", "file", b"y"))  # a file where a folder must go
    with pytest.raises(OutProblem, match=r"/out/a/b could not be copied to the host \(File exists\); "
                                         "write plain, flat files"):
        extract_out(_chunks(clash), tmp_path / "clash", 1 << 20)
