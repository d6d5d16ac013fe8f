"""Dataset loaders for the extras (stdlib + numpy only; never the student's package).

Under the harness, ``$HARNESS_DATA_DIR/<name>/`` is a read-only view of the TRAINING split only:
the loaders return ``x_test=None, y_test=None``; the extra exports its trained weights and the host
evaluates them on test images the sandbox never saw. Run directly, they read the user's dataset
cache (``$HARNESS_DATA``, else the same default folder as ``harness data``), check the content
hashes, and return the test split too (so a student sees a test accuracy of their own).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import sys
from pathlib import Path
from typing import NamedTuple

import numpy as np

APP_NAME = "tinytorch-harness"
# Duplicated from harness/datasets (this file cannot import the harness); a test keeps them equal.
MNIST_FILES = {  # key -> (file stem, sha256 of the uncompressed IDX bytes)
    "x_train": (
        "train-images-idx3-ubyte",
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
    "y_train": (
        "train-labels-idx1-ubyte",
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
    "x_test": (
        "t10k-images-idx3-ubyte",
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
    "y_test": (
        "t10k-labels-idx1-ubyte",
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
}
CIFAR10_ARRAYS = {
    "x_train": ((50000, 32, 32, 3), "47af8b02cfcfb6cdf3dbbd1969ad7f1b70f4413f6f80f437b020ee4e5bc8304a"),
    "y_train": ((50000,), "2b7cd2f24487317614016b72ffd53071c3062f592f0eb300c18a770d41ae1253"),
    "x_test": ((10000, 32, 32, 3), "f9b1e2130bab680db56eb06d886f7f1ad0f1183907ceff4659d1735c890f5b04"),
    "y_test": ((10000,), "cec8a24a1e92aa2ecaa0bbd3dbfa86bf6cd8759fbd209a832824c8cf0afca9d5"),
}
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


class Splits(NamedTuple):
    """Images uint8 as stored (MNIST NHW, CIFAR-10 NHWC); labels int64; the test split None in the sandbox."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray | None
    y_test: np.ndarray | None


def default_cache_root() -> Path:
    """Same rule as the host (platformdirs user cache dir, no author, no 'Cache' suffix) + /datasets."""
    if os.environ.get("HARNESS_DATA"):
        return Path(os.environ["HARNESS_DATA"]).expanduser()
    home = Path.home()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", home / "AppData" / "Local"))
    elif sys.platform == "darwin":
        base = home / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME", "").strip() or home / ".cache")
    return base / APP_NAME / "datasets"


def _locate(name: str) -> tuple[Path, bool]:
    """(directory, is_sandbox_view) for a dataset, or a clear exit saying how to get it."""
    view_root = os.environ.get("HARNESS_DATA_DIR")
    if view_root:
        directory = Path(view_root) / name
        if not directory.is_dir():
            raise SystemExit(f"dataset {name!r} is not mounted at {directory}: add `{name}` to the "
                             "criterion's `datasets:` list")
        return directory, True
    directory = default_cache_root() / name
    if not directory.is_dir():
        raise SystemExit(f"dataset {name!r} not found in {directory}. Get it once with "
                         f"`harness data import {name} PATH` (offline) or `harness data fetch {name}`, "
                         "or set HARNESS_DATA to the folder that holds it.")
    return directory, False


def _corrupt(name: str, what: str) -> SystemExit:
    return SystemExit(f"dataset {name!r}: {what}. Repair it with `harness data fetch {name}` "
                      f"or `harness data import {name} PATH`.")


def _read_idx(path: Path, expected_sha256: str | None) -> np.ndarray:
    if not path.is_file():
        raise _corrupt("mnist", f"{path} is missing")
    with gzip.open(path, "rb") as handle:
        data = handle.read()
    if expected_sha256 and hashlib.sha256(data).hexdigest() != expected_sha256:
        raise _corrupt("mnist", f"{path} has the wrong content (sha256 mismatch)")
    ndim = data[3]
    dims = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_mnist() -> Splits:
    """MNIST: x_train (60000,28,28) uint8, y_train (60000,), x_test (10000,28,28), y_test or None."""
    directory, in_sandbox = _locate("mnist")
    arrays = {}
    for key, (stem, digest) in MNIST_FILES.items():
        if in_sandbox and key in ("x_test", "y_test"):
            continue
        arrays[key] = _read_idx(directory / (stem + ".gz"), None if in_sandbox else digest)
    labels = {k: arrays[k].astype(np.int64) for k in ("y_train", "y_test") if k in arrays}
    return Splits(arrays["x_train"], labels["y_train"], arrays.get("x_test"), labels.get("y_test"))


def _check_cifar(key: str, array: np.ndarray, verify_hash: bool) -> np.ndarray:
    shape, digest = CIFAR10_ARRAYS[key]
    if array.dtype != np.uint8 or array.shape != shape:
        raise _corrupt("cifar10", f"{key} is {array.dtype}{list(array.shape)}, expected uint8{list(shape)}")
    if verify_hash and hashlib.sha256(np.ascontiguousarray(array).data).hexdigest() != digest:
        raise _corrupt("cifar10", f"{key} has the wrong content (sha256 mismatch)")
    return array


def load_cifar10() -> Splits:
    """CIFAR-10: x_train (50000,32,32,3) uint8 HWC, y_train, x_test (10000,32,32,3), y_test or None."""
    directory, in_sandbox = _locate("cifar10")
    if in_sandbox:
        arrays = {key: np.load(directory / f"{key}.npy", mmap_mode="r", allow_pickle=False)
                  for key in ("x_train", "y_train")}
    else:
        path = directory / "cifar10.npz"
        if not path.is_file():
            raise _corrupt("cifar10", f"{path} is missing")
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in CIFAR10_ARRAYS}
    arrays = {key: _check_cifar(key, a, verify_hash=not in_sandbox) for key, a in arrays.items()}
    y_test = arrays["y_test"].astype(np.int64) if "y_test" in arrays else None
    return Splits(arrays["x_train"], arrays["y_train"].astype(np.int64), arrays.get("x_test"), y_test)
