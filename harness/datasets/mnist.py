"""MNIST: the four canonical IDX files, cached gzip-compressed, verified on their uncompressed bytes."""

from __future__ import annotations

import gzip
import shutil
import zlib
from pathlib import Path

import numpy as np

from .base import Dataset, Downloader, sha256_bytes
from .errors import DatasetCorruptError, DatasetMissingError

# sha256 of the UNCOMPRESSED IDX bytes (header included), as in ../shared/datasets/mnist/README.md.
FILES: dict[str, tuple[str, str]] = {  # key -> (file stem, sha256)
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
_IDX_UBYTE = 0x08


def parse_idx(data: bytes, what: str) -> np.ndarray:
    """Decode an IDX file of unsigned bytes (magic 0x0000 08 NDIM, big-endian dims)."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != _IDX_UBYTE:
        raise ValueError(f"{what} is not an IDX file of unsigned bytes (bad magic number)")
    ndim = data[3]
    header = 4 + 4 * ndim
    dims = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(dims, dtype=np.int64))
    if len(data) != expected:
        raise ValueError(f"{what} holds {len(data)} bytes, its IDX header {dims} says {expected}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


class Mnist(Dataset):
    name = "mnist"
    title = "MNIST handwritten digits (60k train, 10k test, 28x28 grey)"
    homepage = "http://yann.lecun.com/exdb/mnist/"
    citation = "Y. LeCun, C. Cortes, C. J. C. Burges: The MNIST database of handwritten digits."
    sources = (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",  # the mirror torchvision uses
        "http://yann.lecun.com/exdb/mnist/",  # the original host (often unavailable)
    )

    def cache_files(self) -> tuple[str, ...]:
        return tuple(stem + ".gz" for stem, _ in FILES.values())

    def view_files(self) -> tuple[str, ...]:
        return tuple(FILES[key][0] + ".gz" for key in ("x_train", "y_train"))

    def _read(self, directory: Path, key: str) -> bytes:
        stem, _ = FILES[key]
        path = directory / (stem + ".gz")
        if not path.is_file():
            raise DatasetMissingError(f"dataset 'mnist': {path} is missing")
        try:
            with gzip.open(path, "rb") as handle:
                return handle.read()
        except (OSError, EOFError, zlib.error) as exc:
            raise self.corrupt(f"{path} is not a readable gzip file ({exc})") from None

    def _check(self, directory: Path, key: str) -> bytes:
        data = self._read(directory, key)
        stem, expected = FILES[key]
        if sha256_bytes(data) != expected:
            raise self.corrupt(f"{directory / (stem + '.gz')} has the wrong content (sha256 mismatch)")
        return data

    def verify(self, directory: Path) -> None:
        for key in FILES:
            self._check(directory, key)

    def import_into(self, source: Path, staging: Path) -> None:
        for stem, _ in FILES.values():
            packed, raw = source / (stem + ".gz"), source / stem
            if packed.is_file():
                shutil.copyfile(packed, staging / packed.name)
            elif raw.is_file():
                with open(raw, "rb") as src, \
                        gzip.GzipFile(staging / packed.name, "wb", compresslevel=1, mtime=0) as dst:
                    shutil.copyfileobj(src, dst)
            else:
                raise DatasetMissingError(
                    f"dataset 'mnist': neither {packed.name} nor {stem} found in {source}; "
                    "point PATH at the folder holding the four IDX files (e.g. ../shared/datasets/mnist)")

    def download_into(self, staging: Path, download: Downloader) -> None:
        for key, (stem, _) in FILES.items():
            errors = []
            for base in self.sources:
                try:
                    download(base + stem + ".gz", staging / (stem + ".gz"))
                    self._check(staging, key)
                    break
                except (OSError, DatasetCorruptError) as exc:  # a bad mirror: try the next one
                    errors.append(f"{base}: {exc}")
            else:
                raise OSError(f"could not download {stem}.gz from any mirror: " + "; ".join(errors))

    def build_view(self, directory: Path, staging: Path) -> None:
        for name in self.view_files():
            shutil.copyfile(directory / name, staging / name)

    def labels(self, directory: Path, split: str) -> np.ndarray:
        key = {"train": "y_train", "test": "y_test"}[split]
        data = self._check(directory, key)
        return parse_idx(data, FILES[key][0]).astype(np.int64)

    def images(self, directory: Path, split: str) -> np.ndarray:
        key = {"train": "x_train", "test": "x_test"}[split]
        return parse_idx(self._check(directory, key), FILES[key][0])
