"""Arrays across the sandbox boundary: the host's inputs in, the run's evidence out (never pickled)."""

from __future__ import annotations

import io
import os
import re
import stat
import tempfile
from pathlib import Path

import numpy as np

from harness.outfiles import OutFileError, read_capped

from . import EvidenceProblem

INPUTS_FILE = "probes.npz"
EVIDENCE_DIR = "evidence"  # below the run's /out
MAX_EVIDENCE_FILES = 512
MAX_EVIDENCE_BYTES = 256 * 1024 * 1024
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.]*\.npy$")


def write_inputs(arrays: dict[str, np.ndarray]) -> Path:
    """A fresh directory, readable by the sandbox user, holding ``probes.npz``; the caller removes it."""
    directory = Path(tempfile.mkdtemp(prefix="harness-in-"))
    np.savez(directory / INPUTS_FILE, **arrays)
    (directory / INPUTS_FILE).chmod(0o644)
    directory.chmod(0o755)
    return directory


def load_evidence(out_dir: Path | None) -> dict[str, np.ndarray]:
    """Every ``evidence/<name>.npy`` the run wrote, by name; bounded, plain files only, no pickle."""
    if out_dir is None:
        return {}
    directory = Path(out_dir) / EVIDENCE_DIR
    try:
        mode = directory.lstat().st_mode
    except FileNotFoundError:
        return {}
    if not stat.S_ISDIR(mode):
        raise EvidenceProblem(f"/out/{EVIDENCE_DIR} is not a directory")
    names = sorted(os.listdir(directory))
    if len(names) > MAX_EVIDENCE_FILES:
        raise EvidenceProblem(f"/out/{EVIDENCE_DIR} holds {len(names)} files (at most {MAX_EVIDENCE_FILES})")
    arrays, total = {}, 0
    for name in names:
        if not _NAME.match(name):
            raise EvidenceProblem(f"/out/{EVIDENCE_DIR}/{name[:80]!r} is not a <name>.npy evidence file")
        try:
            data = read_capped(directory, name, MAX_EVIDENCE_BYTES - total)
        except OutFileError as exc:
            raise EvidenceProblem(f"/out/{EVIDENCE_DIR}: {exc}") from None
        total += len(data)
        try:
            array = np.load(io.BytesIO(data), allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise EvidenceProblem(f"/out/{EVIDENCE_DIR}/{name} is not a plain .npy array ({exc})") from None
        if not isinstance(array, np.ndarray) or not (np.issubdtype(array.dtype, np.number)
                                                      or array.dtype == np.bool_):
            raise EvidenceProblem(f"/out/{EVIDENCE_DIR}/{name} is not a numeric array")
        arrays[name[:-len(".npy")]] = array
    return arrays
