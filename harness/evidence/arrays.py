"""Arrays across the sandbox boundary: the host's inputs in, the run's evidence out (never pickled)."""

from __future__ import annotations

import io
import math
import os
import re
import stat
import tempfile
from pathlib import Path

import numpy as np

from harness.judging.outfiles import OutFileError, read_capped

from . import EvidenceProblem

INPUTS_FILE = "probes.npz"
EVIDENCE_DIR = "evidence"  # below the run's /out
MAX_FILES = 512
MAX_BYTES = 256 * 1024 * 1024
_FILE = re.compile(r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*\.npy$")


def write_inputs(arrays: dict[str, np.ndarray]) -> Path:
    """A fresh directory, readable by the sandbox user, holding ``probes.npz``; the caller removes it."""
    directory = Path(tempfile.mkdtemp(prefix="harness-in-"))
    np.savez(directory / INPUTS_FILE, **arrays)
    (directory / INPUTS_FILE).chmod(0o644)
    directory.chmod(0o755)
    return directory


def write_sealed(phases: dict[str, tuple[dict[str, np.ndarray], dict[str, np.ndarray]]]) -> Path:
    """A host-only directory (mode 0700) with ``NAME.setup.npz`` and ``NAME.go.npz`` per phase: the
    runner reveals each file into the run's inputs when the script asks (harness/runners/phases.py)."""
    directory = Path(tempfile.mkdtemp(prefix="harness-sealed-"))
    for name, (setup, go) in phases.items():
        np.savez(directory / f"{name}.setup.npz", **setup)
        np.savez(directory / f"{name}.go.npz", **go)
    return directory


def load_evidence(out_dir: Path | None) -> dict[str, np.ndarray]:
    """Every ``evidence/<name>.npy`` the run wrote, by name ({} when it wrote none)."""
    if out_dir is None or not os.path.lexists(Path(out_dir) / EVIDENCE_DIR):
        return {}
    return load_arrays(Path(out_dir) / EVIDENCE_DIR)


def load_arrays(directory, *, max_files: int = MAX_FILES,
                max_bytes: int = MAX_BYTES) -> dict[str, np.ndarray]:
    """Every ``<name>.npy`` in ``directory``, by name; raises EvidenceProblem unless all of it is
    plain: a real directory of at most ``max_files`` regular ``.npy`` files (no symlinks, nothing
    else), ``max_bytes`` in total, each a numeric array whose header matches its size (no pickle,
    no object or structured dtypes)."""
    directory = Path(directory)
    try:
        mode = directory.lstat().st_mode
    except FileNotFoundError:
        raise EvidenceProblem(f"{directory} does not exist: no weights were exported") from None
    if not stat.S_ISDIR(mode):
        raise EvidenceProblem(f"{directory} is not a directory (symlinks are refused)")
    entries = []
    with os.scandir(directory) as scan:
        for entry in scan:
            entries.append(entry)
            if len(entries) > max_files:
                raise EvidenceProblem(f"{directory} holds more than {max_files} files; a model "
                                      f"export is one .npy per Tensor")
    total = 0
    for entry in entries:
        if not _FILE.match(entry.name):
            raise EvidenceProblem(f"{entry.name[:80]!r} is not a <dotted name>.npy array file")
        info = entry.stat(follow_symlinks=False)
        if not stat.S_ISREG(info.st_mode):
            raise EvidenceProblem(f"{entry.name} is not a regular file (symlinks are refused)")
        total += info.st_size
        if total > max_bytes:
            raise EvidenceProblem(f"the arrays in {directory} total more than {max_bytes} bytes; not read")
    arrays, read = {}, 0
    for entry in sorted(entries, key=lambda e: e.name):
        try:
            data = read_capped(directory, entry.name, max_bytes - read)
        except OutFileError as exc:
            raise EvidenceProblem(f"{directory}: {exc}") from None
        read += len(data)
        arrays[entry.name[:-len(".npy")]] = _parse_npy(entry.name, data)
    return arrays


def _parse_npy(name: str, data: bytes) -> np.ndarray:
    """The array in ``data``; its header is checked before numpy allocates anything."""
    buffer = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(buffer)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(buffer)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(buffer)
        else:
            raise ValueError(f"format version {version} is not accepted")
    except (ValueError, OSError, EOFError, SyntaxError, TypeError) as exc:
        raise EvidenceProblem(f"{name} is not a plain .npy array ({exc})") from None
    if dtype.hasobject or dtype.fields is not None or dtype.kind not in "biuf":
        raise EvidenceProblem(f"{name} holds {dtype} values; only plain numeric arrays are read (no pickle)")
    expected = math.prod(int(n) for n in shape) * dtype.itemsize
    if expected != len(data) - buffer.tell():
        raise EvidenceProblem(f"{name}'s header says {shape} {dtype} ({expected} bytes) but the file holds "
                              f"{len(data) - buffer.tell()} bytes of data")
    try:
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise EvidenceProblem(f"{name} is not a plain .npy array ({exc})") from None
    return array
