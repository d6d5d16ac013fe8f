"""CIFAR-10: cached as one .npz (HWC uint8 images, uint8 labels), verified per array."""

from __future__ import annotations

import hashlib
import io
import pickle
import shutil
import tarfile
import zipfile
from pathlib import Path

import numpy as np

from .base import Dataset, Downloader, sha256_array
from .errors import DatasetCorruptError, DatasetMissingError

CACHE_FILE = "cifar10.npz"
# key -> (shape, sha256 of the raw C-order bytes), as in ../shared/datasets/cifar10/README.md.
ARRAYS: dict[str, tuple[tuple[int, ...], str]] = {
    "x_train": ((50000, 32, 32, 3), "47af8b02cfcfb6cdf3dbbd1969ad7f1b70f4413f6f80f437b020ee4e5bc8304a"),
    "y_train": ((50000,), "2b7cd2f24487317614016b72ffd53071c3062f592f0eb300c18a770d41ae1253"),
    "x_test": ((10000, 32, 32, 3), "f9b1e2130bab680db56eb06d886f7f1ad0f1183907ceff4659d1735c890f5b04"),
    "y_test": ((10000,), "cec8a24a1e92aa2ecaa0bbd3dbfa86bf6cd8759fbd209a832824c8cf0afca9d5"),
}
VIEW_KEYS = ("x_train", "y_train")  # the test split stays on the host
TARBALL = "cifar-10-python.tar.gz"
TARBALL_MD5 = "c58f30108f718f92721af3b95e74349a"  # published on the CIFAR-10 home page
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"


class _BatchUnpickler(pickle.Unpickler):
    """Unpickles the official batch files, refusing any global but numpy's array reconstruction."""

    _ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
                ("numpy", "ndarray"), ("numpy", "dtype"),
                ("_codecs", "encode")}  # how protocol-2 pickles written by Python 3 carry bytes

    def find_class(self, module, name):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"CIFAR-10 batch refers to {module}.{name}, which is not allowed")
        return super().find_class(module, name)


def _decode_batch(raw: bytes, what: str) -> tuple[np.ndarray, np.ndarray]:
    """One official batch -> (N,32,32,3) uint8 images and (N,) uint8 labels."""
    try:
        batch = _BatchUnpickler(io.BytesIO(raw), encoding="bytes").load()
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        labels = np.asarray(batch[b"labels"], dtype=np.uint8)
        images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)  # stored CHW-flat, cached HWC
    except (pickle.UnpicklingError, KeyError, TypeError, ValueError, EOFError) as exc:
        raise DatasetCorruptError(
            f"dataset 'cifar10': {what} is not a CIFAR-10 python batch ({exc})") from None
    return np.ascontiguousarray(images), labels


def convert_batches(read_member, destination: Path) -> None:
    """Assemble the official train/test batches into the cache's .npz (uncompressed: fast to read)."""
    train = [_decode_batch(read_member(name), name) for name in TRAIN_BATCHES]
    x_test, y_test = _decode_batch(read_member(TEST_BATCH), TEST_BATCH)
    np.savez(destination, x_train=np.concatenate([x for x, _ in train]),
             y_train=np.concatenate([y for _, y in train]), x_test=x_test, y_test=y_test)


def _convert_tarball(tarball: Path, destination: Path) -> None:
    with tarfile.open(tarball, "r:gz") as archive:
        members = {Path(m.name).name: m for m in archive.getmembers() if m.isfile()}

        def read_member(name: str) -> bytes:
            if name not in members:
                raise DatasetMissingError(f"dataset 'cifar10': {tarball} has no member {name}")
            return archive.extractfile(members[name]).read()

        convert_batches(read_member, destination)


class Cifar10(Dataset):
    name = "cifar10"
    title = "CIFAR-10 (50k train, 10k test, 32x32 RGB, 10 classes)"
    homepage = "https://www.cs.toronto.edu/~kriz/cifar.html"
    citation = "A. Krizhevsky: Learning Multiple Layers of Features from Tiny Images, 2009."
    sources = ("https://www.cs.toronto.edu/~kriz/" + TARBALL,)

    def cache_files(self) -> tuple[str, ...]:
        return (CACHE_FILE,)

    def view_files(self) -> tuple[str, ...]:
        return tuple(key + ".npy" for key in VIEW_KEYS)

    def _load(self, directory: Path, keys=tuple(ARRAYS)) -> dict[str, np.ndarray]:
        path = directory / CACHE_FILE
        if not path.is_file():
            raise DatasetMissingError(f"dataset 'cifar10': {path} is missing")
        arrays = {}
        try:
            with np.load(path, allow_pickle=False) as archive:
                for key in keys:
                    if key not in archive.files:
                        raise self.corrupt(f"{path} has no array {key!r}")
                    arrays[key] = archive[key]
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
            raise self.corrupt(f"{path} is not a readable .npz file ({exc})") from None
        for key, array in arrays.items():
            shape, digest = ARRAYS[key]
            if array.dtype != np.uint8 or array.shape != shape:
                raise self.corrupt(f"{path}: {key} is {array.dtype}{list(array.shape)}, "
                                   f"expected uint8{list(shape)}")
            if sha256_array(array) != digest:
                raise self.corrupt(f"{path}: {key} has the wrong content (sha256 mismatch)")
        return arrays

    def verify(self, directory: Path) -> None:
        self._load(directory)

    def import_into(self, source: Path, staging: Path) -> None:
        candidates = [source] if source.is_file() else [source / CACHE_FILE, source / TARBALL]
        batches_dir = source if (source / TEST_BATCH).is_file() else source / "cifar-10-batches-py"
        for candidate in candidates:
            if candidate.is_file() and candidate.name.endswith(".npz"):
                shutil.copyfile(candidate, staging / CACHE_FILE)
                return
            if candidate.is_file() and candidate.name.endswith((".tar.gz", ".tgz")):
                _convert_tarball(candidate, staging / CACHE_FILE)
                return
        if source.is_dir() and (batches_dir / TEST_BATCH).is_file():
            convert_batches(lambda name: (batches_dir / name).read_bytes(), staging / CACHE_FILE)
            return
        raise DatasetMissingError(
            f"dataset 'cifar10': found no {CACHE_FILE}, {TARBALL} or cifar-10-batches-py/ at {source}; "
            "point PATH at one of them (e.g. ../shared/datasets/cifar10)")

    def download_into(self, staging: Path, download: Downloader) -> None:
        tarball = staging / TARBALL
        errors = []
        for url in self.sources:
            try:
                download(url, tarball)
            except OSError as exc:
                errors.append(f"{url}: {exc}")
                continue
            if _md5(tarball) != TARBALL_MD5:
                errors.append(f"{url}: the archive's md5 does not match the published {TARBALL_MD5}")
                continue
            _convert_tarball(tarball, staging / CACHE_FILE)
            tarball.unlink()
            return
        raise OSError("could not download CIFAR-10: " + "; ".join(errors))

    def build_view(self, directory: Path, staging: Path) -> None:
        for key, array in self._load(directory, VIEW_KEYS).items():
            np.save(staging / (key + ".npy"), array, allow_pickle=False)

    def labels(self, directory: Path, split: str) -> np.ndarray:
        key = {"train": "y_train", "test": "y_test"}[split]
        return self._load(directory, (key,))[key].astype(np.int64)

    def images(self, directory: Path, split: str) -> np.ndarray:
        key = {"train": "x_train", "test": "x_test"}[split]
        return self._load(directory, (key,))[key]


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
