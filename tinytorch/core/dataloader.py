"""Datasets, a seeded batching DataLoader, and array augmentations (Compose, flips, crops)."""

from __future__ import annotations

import math

import numpy as np

from tinytorch.core.random import rng
from tinytorch.core.tensor import Tensor


class Dataset:
    """Anything with ``__len__`` and ``__getitem__(i)`` returning a sample (often a tuple)."""

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must implement __len__")

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")


class TensorDataset(Dataset):
    """Samples are rows of the given arrays/Tensors, which must share their first dimension."""

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset: pass at least one array or Tensor")
        self.arrays = [t.data if isinstance(t, Tensor) else np.asarray(t) for t in tensors]
        lengths = [len(a) for a in self.arrays]
        if len(set(lengths)) != 1:
            shapes = [a.shape for a in self.arrays]
            raise ValueError(f"TensorDataset: all inputs need the same first dimension, got shapes {shapes}")

    @property
    def tensors(self) -> tuple[Tensor, ...]:
        """The full data as Tensors (copies; batches are cut from ``arrays`` without copying all)."""
        return tuple(Tensor(a) for a in self.arrays)

    def __len__(self) -> int:
        return len(self.arrays[0])

    def __getitem__(self, index):
        return tuple(Tensor(a[index]) for a in self.arrays)

    def batch(self, indices: np.ndarray) -> tuple[Tensor, ...]:
        """All samples at ``indices`` at once (one fancy-index per array)."""
        return tuple(Tensor(a[indices]) for a in self.arrays)


class DataLoader:
    """Iterate over a dataset in batches of Tensors; ``shuffle`` draws a permutation from ``rng()``.

    ``shuffle`` defaults to True, as in the course: pass ``shuffle=False`` when order matters
    (evaluation, writing predictions).
    """

    def __init__(self, dataset, batch_size: int = 32, shuffle: bool = True, drop_last: bool = False):
        if int(batch_size) != batch_size or batch_size <= 0:
            raise ValueError(f"DataLoader: batch_size must be a positive integer, got {batch_size!r}")
        self.dataset, self.batch_size = dataset, int(batch_size)
        self.shuffle, self.drop_last = bool(shuffle), bool(drop_last)

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self):
        n = len(self.dataset)
        order = rng().permutation(n) if self.shuffle else np.arange(n)
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            indices = order[start:start + self.batch_size]
            if isinstance(self.dataset, TensorDataset):
                yield self.dataset.batch(indices)
            else:
                yield _collate([self.dataset[int(i)] for i in indices])


def _collate(samples: list):
    """Stack a list of samples (Tensors, arrays, numbers or tuples of them) into batch Tensors."""
    first = samples[0]
    if isinstance(first, (tuple, list)):
        return tuple(_collate([s[k] for s in samples]) for k in range(len(first)))
    return Tensor(np.stack([s.data if isinstance(s, Tensor) else np.asarray(s) for s in samples]))


class Compose:
    """Apply transforms in order."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, x):
        for transform in self.transforms:
            x = transform(x)
        return x


def _unwrap(x) -> tuple[np.ndarray, bool]:
    if isinstance(x, Tensor):
        return x.data, True
    return np.asarray(x), False


def _as_batch(array: np.ndarray, who: str) -> tuple[np.ndarray, bool]:
    if array.ndim == 3:
        return array[None], True
    if array.ndim == 4:
        return array, False
    raise ValueError(f"{who}: expected a CHW image or an NCHW batch, got shape {array.shape}")


class RandomHorizontalFlip:
    """Flip each image left-right with probability ``p`` (CHW or NCHW; Tensor or ndarray)."""

    def __init__(self, p: float = 0.5):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"RandomHorizontalFlip: p must be in [0, 1], got {p}")
        self.p = p

    def __call__(self, x):
        array, was_tensor = _unwrap(x)
        batch, single = _as_batch(array, "RandomHorizontalFlip")
        flip = rng().random(len(batch)) < self.p
        out = np.where(flip[:, None, None, None], batch[..., ::-1], batch)
        out = out[0] if single else out
        return Tensor(out) if was_tensor else out


class RandomCrop:
    """Zero-pad by ``padding`` then cut a random ``size`` window per image (CHW or NCHW)."""

    def __init__(self, size, padding: int = 0):
        self.size = (size, size) if isinstance(size, int) else tuple(size)
        self.padding = int(padding)

    def __call__(self, x):
        array, was_tensor = _unwrap(x)
        batch, single = _as_batch(array, "RandomCrop")
        p, (h, w) = self.padding, self.size
        padded = np.pad(batch, ((0, 0), (0, 0), (p, p), (p, p))) if p else batch
        n, c, ph, pw = padded.shape
        if h > ph or w > pw:
            raise ValueError(f"RandomCrop: crop {self.size} is larger than the padded image {(ph, pw)}")
        top = rng().integers(0, ph - h + 1, size=n)
        left = rng().integers(0, pw - w + 1, size=n)
        rows = (top[:, None] + np.arange(h))[:, None, :, None]
        cols = (left[:, None] + np.arange(w))[:, None, None, :]
        out = padded[np.arange(n)[:, None, None, None], np.arange(c)[None, :, None, None], rows, cols]
        out = out[0] if single else out
        return Tensor(out) if was_tensor else out
