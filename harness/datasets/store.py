"""The host cache: import, fetch, verify and list datasets; every change lands atomically."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .base import Dataset
from .cache import cache_root, dataset_dir
from .download import make_downloader
from .errors import DatasetCorruptError, DatasetError, DatasetMissingError, fix_hint
from .registry import REGISTRY, get

STAMP = ".verified.json"  # sizes and mtimes of the files as they were when last hashed


@dataclass(frozen=True)
class Status:
    name: str
    title: str
    path: Path
    state: str  # "verified" | "unverified" (present, not hashed since it changed) | "missing"


def _file_stats(ds: Dataset, directory: Path) -> dict[str, list[int]]:
    stats = {}
    for name in ds.cache_files():
        st = (directory / name).stat()
        stats[name] = [st.st_size, st.st_mtime_ns]
    return stats


def _write_stamp(ds: Dataset, directory: Path) -> None:
    tmp = directory / f"{STAMP}.{os.getpid()}.{threading.get_ident()}.tmp"  # one per writer
    tmp.write_text(json.dumps({"files": _file_stats(ds, directory)}), encoding="utf-8")
    os.replace(tmp, directory / STAMP)


def _stamp_current(ds: Dataset, directory: Path) -> bool:
    try:
        stamp = json.loads((directory / STAMP).read_text(encoding="utf-8"))
        return stamp.get("files") == _file_stats(ds, directory)
    except (OSError, ValueError):
        return False


def _missing_files(ds: Dataset, directory: Path) -> list[str]:
    return [name for name in ds.cache_files() if not (directory / name).is_file()]


def _present(name: str) -> tuple[Dataset, Path]:
    """The dataset and its cache directory, which holds every file; else how to get them."""
    ds = get(name)
    directory = dataset_dir(name)
    missing = _missing_files(ds, directory)
    if missing:
        raise DatasetMissingError(
            f"dataset {name!r} is not in the cache {directory} (missing: {', '.join(missing)}); "
            f"{fix_hint(name)}")
    return ds, directory


def ensure_verified(name: str) -> Path:
    """The dataset's cache directory, hashed once and re-hashed only after its files change."""
    ds, directory = _present(name)
    if not _stamp_current(ds, directory):
        ds.verify(directory)
        _write_stamp(ds, directory)
    return directory


def verify(name: str) -> Path:
    """Re-hash every file of the dataset now; raise a DatasetError saying how to repair it."""
    ds, directory = _present(name)
    (directory / STAMP).unlink(missing_ok=True)
    ds.verify(directory)
    _write_stamp(ds, directory)
    return directory


def _install(ds: Dataset, fill: Callable[[Path], None]) -> Path:
    """Fill a staging directory, verify it, then swap it in for the cache directory atomically."""
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".staging-{ds.name}-", dir=root))
    try:
        fill(staging)
        ds.verify(staging)
        for extra in set(os.listdir(staging)) - set(ds.cache_files()):
            os.remove(staging / extra)
        _write_stamp(ds, staging)
        staging.chmod(0o755)
        target = dataset_dir(ds.name)
        old = None
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".old-{ds.name}-", dir=root))
            os.replace(target, old / ds.name)
        os.replace(staging, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return target
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def import_from(name: str, path: str | Path) -> Path:
    """Copy (or convert) a dataset from a local folder or file into the cache, verifying its content."""
    ds = get(name)
    source = Path(path).expanduser()
    if not source.exists():
        raise DatasetMissingError(f"cannot import {name!r}: {source} does not exist")
    try:
        return _install(ds, lambda staging: ds.import_into(source, staging))
    except DatasetCorruptError as exc:
        raise DatasetCorruptError(
            f"the files at {source} are not the expected {name!r} data, nothing was changed in the cache: "
            f"{exc}") from None


def fetch(name: str, quiet: bool = False, download=None) -> Path:
    """Download a dataset from its official sources into the cache (verified, atomic)."""
    ds = get(name)
    download = download or make_downloader(quiet=quiet)
    try:
        return _install(ds, lambda staging: ds.download_into(staging, download))
    except OSError as exc:
        raise DatasetError(
            f"could not download {name!r} ({exc}); when offline, copy the files from a machine that has "
            f"them and run `harness data import {name} PATH`") from None


def list_status() -> list[Status]:
    """Every registered dataset with its cache state (cheap: no hashing)."""
    rows = []
    for name, ds in sorted(REGISTRY.items()):
        directory = dataset_dir(name)
        if _missing_files(ds, directory):
            state = "missing"
        else:
            state = "verified" if _stamp_current(ds, directory) else "unverified"
        rows.append(Status(name, ds.title, directory, state))
    return rows
