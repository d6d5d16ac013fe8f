"""What every registered dataset provides; the registry maps names to instances."""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .errors import DatasetCorruptError, fix_hint

# download(url, destination) -> None; raises OSError when the URL cannot be fetched.
Downloader = Callable[[str, Path], None]


def sha256_bytes(data: bytes | memoryview) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_array(array: np.ndarray) -> str:
    """Hash of an array's raw bytes in C order (the CIFAR-10 README's convention)."""
    return sha256_bytes(memoryview(np.ascontiguousarray(array)).cast("B"))


class Dataset(ABC):
    """One dataset: its cache layout, how to verify, import, download and derive the sandbox view."""

    name: str
    title: str
    homepage: str
    citation: str
    sources: tuple[str, ...]  # where `fetch` downloads from, tried in order
    heldout_splits: tuple[str, ...] = ("test",)  # splits (images AND labels) that never enter the sandbox

    @abstractmethod
    def cache_files(self) -> tuple[str, ...]:
        """File names the cache directory holds once the dataset is complete."""

    @abstractmethod
    def verify(self, directory: Path) -> None:
        """Check every file's content against the registry hashes; raise DatasetCorruptError."""

    @abstractmethod
    def import_into(self, source: Path, staging: Path) -> None:
        """Copy (or convert) the files found at ``source`` into ``staging`` in the cache layout."""

    @abstractmethod
    def download_into(self, staging: Path, download: Downloader) -> None:
        """Download from ``sources`` into ``staging`` in the cache layout."""

    @abstractmethod
    def view_files(self) -> tuple[str, ...]:
        """File names of the sandbox view: the training split only (no held-out image or label)."""

    @abstractmethod
    def build_view(self, directory: Path, staging: Path) -> None:
        """Write the sandbox view of the verified cache ``directory`` into ``staging``."""

    @abstractmethod
    def labels(self, directory: Path, split: str) -> np.ndarray:
        """The labels of ``split`` (``train`` or ``test``), read from the verified cache."""

    @abstractmethod
    def images(self, directory: Path, split: str) -> np.ndarray:
        """The images of ``split`` (``train`` or ``test``), uint8 as stored, from the verified cache."""

    def corrupt(self, what: str) -> DatasetCorruptError:
        """An error for a bad file in the cache, with the command that repairs it."""
        return DatasetCorruptError(f"dataset {self.name!r}: {what}; to repair, {fix_hint(self.name)}")
