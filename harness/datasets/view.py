"""What the host hands the sandbox (a label-free view) and keeps for itself (held-out labels)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import threading
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: threads are still serialised, processes are not
    fcntl = None

import numpy as np

from harness.provenance import sha256_file

from .cache import view_dir
from .errors import DatasetCorruptError, DatasetError
from .registry import get
from .store import ensure_verified

_lock = threading.Lock()  # jobs run in threads: one checks or builds a view while the others wait
_checked: dict[str, tuple] = {}  # view path -> file stats when its hashes were last checked


def _manifest_path(target: Path) -> Path:
    """Kept beside the view, not in it, so the mounted directory holds the data files only."""
    return target.with_name(target.name + ".manifest.json")


def _stats(target: Path) -> tuple:
    return tuple(sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in target.iterdir()))


def _view_intact(target: Path, expected_files: tuple[str, ...]) -> bool:
    """The view holds exactly the expected files, with the hashes recorded when it was built."""
    if not target.is_dir() or sorted(os.listdir(target)) != sorted(expected_files):
        return False
    stats = _stats(target)
    if _checked.get(str(target)) == stats:
        return True
    try:
        manifest = json.loads(_manifest_path(target).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if manifest.get("files") != {f: sha256_file(target / f) for f in expected_files}:
        return False
    _checked[str(target)] = stats
    return True


def _build(name: str, cache: Path, target: Path) -> None:
    ds = get(name)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".staging-{name}-", dir=target.parent))
    try:
        ds.build_view(cache, staging)
        if sorted(os.listdir(staging)) != sorted(ds.view_files()):
            raise DatasetError(f"internal error: the {name!r} view holds {sorted(os.listdir(staging))}")
        manifest = {"files": {f: sha256_file(staging / f) for f in ds.view_files()}}
        for path in staging.iterdir():
            path.chmod(0o644)
        staging.chmod(0o755)  # readable by the sandbox's unprivileged user
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".old-{name}-", dir=target.parent))
            os.replace(target, old / name)
            shutil.rmtree(old, ignore_errors=True)
        os.replace(staging, target)
        tmp = _manifest_path(target).with_suffix(".tmp")
        tmp.write_text(json.dumps(manifest), encoding="utf-8")
        os.replace(tmp, _manifest_path(target))
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@contextlib.contextmanager
def _exclusive(target: Path):
    """One builder at a time: threads of this process, and other harness processes (POSIX)."""
    with _lock:
        if fcntl is None:
            yield
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target.with_name(target.name + ".lock"), "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield


def sandbox_view(name: str) -> Path:
    """A directory safe to mount read-only: the training data and test inputs, never held-out labels.

    Built once from the verified cache, rebuilt when missing or altered, hashed once per process.
    """
    ds = get(name)
    target = view_dir(name)
    with _exclusive(target):
        cache = ensure_verified(name)
        if not _view_intact(target, ds.view_files()):
            _build(name, cache, target)
            if not _view_intact(target, ds.view_files()):
                raise DatasetCorruptError(
                    f"the sandbox view of {name!r} at {target} changed while it was built")
    return target


def heldout_labels(name: str, split: str = "test") -> np.ndarray:
    """Labels of ``split`` as int64, read on the host from the verified cache."""
    ds = get(name)
    if split not in ("train", "test"):
        raise DatasetError(f"dataset {name!r} has no split {split!r}; use 'train' or 'test'")
    return ds.labels(ensure_verified(name), split)


_splits: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}  # (name, split, file stats) -> arrays
_splits_lock = threading.Lock()


def heldout_split(name: str, split: str = "test") -> tuple[np.ndarray, np.ndarray]:
    """(images, labels) of ``split``, read on the host from the verified cache; never mounted.

    Every run of an evidence extra is scored on them, so they are read and hash-checked once per
    process (again only if the cache's files change) and returned read-only."""
    ds = get(name)
    if split not in ("train", "test"):
        raise DatasetError(f"dataset {name!r} has no split {split!r}; use 'train' or 'test'")
    directory = ensure_verified(name)
    key = (name, split, tuple(_stats_of(directory, ds.cache_files())))
    with _splits_lock:
        if key not in _splits:
            images, labels = ds.images(directory, split), ds.labels(directory, split).astype(np.int64)
            for array in (images, labels):
                array.flags.writeable = False
            if len(_splits) >= 4:  # at most two datasets x two splits are ever asked for
                _splits.clear()
            _splits[key] = (images, labels)
        return _splits[key]


def _stats_of(directory: Path, files) -> list[tuple[str, int, int]]:
    return [(f, st.st_size, st.st_mtime_ns) for f in files for st in [(directory / f).stat()]]
