"""Datasets, the batching DataLoader and the augmentations, as the course defines them.

Randomness is the course's: DataLoader shuffles with Python's ``random.shuffle``, the
augmentations draw from numpy's global generator.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod

import numpy as np

from tinytorch.core.tensor import Tensor


class Dataset(ABC):
    """Anything with ``__len__`` and ``__getitem__(idx)`` returning a sample (often a tuple)."""

    @abstractmethod
    def __len__(self) -> int:
        """Number of samples."""

    @abstractmethod
    def __getitem__(self, idx):
        """Sample number ``idx``."""


class TensorDataset(Dataset):
    """Samples are rows of the given Tensors (arrays are accepted too), which share their first dimension."""

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("Must provide at least one tensor")
        self.tensors = tuple(t if isinstance(t, Tensor) else Tensor(t) for t in tensors)
        first_size = len(self.tensors[0].data)
        for i, tensor in enumerate(self.tensors):
            if len(tensor.data) != first_size:
                raise ValueError(f"All tensors must have same size in first dimension. "
                                 f"Tensor 0: {first_size}, Tensor {i}: {len(tensor.data)}")

    def __len__(self) -> int:
        return len(self.tensors[0].data)

    def __getitem__(self, idx):
        if idx >= len(self) or idx < 0:
            raise IndexError(f"Index {idx} out of range for dataset of size {len(self)}")
        return tuple(Tensor(t.data[idx]) for t in self.tensors)


class DataLoader:
    """Batches of a dataset as tuples of Tensors; the last batch may be smaller.

    ``shuffle=True`` reorders the samples each epoch with ``random.shuffle``.
    """

    def __init__(self, dataset, batch_size, shuffle=False):
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle

    def __len__(self) -> int:
        return (len(self.dataset) + self.batch_size - 1) // self.batch_size

    def __iter__(self):
        indices = list(range(len(self.dataset)))
        if self.shuffle:
            random.shuffle(indices)
        for start in range(0, len(indices), self.batch_size):
            batch = indices[start:start + self.batch_size]
            if isinstance(self.dataset, TensorDataset):  # one fancy-index per tensor, same result
                yield tuple(Tensor._wrap(t.data[batch]) for t in self.dataset.tensors)
            else:
                yield self._collate_batch([self.dataset[idx] for idx in batch])

    @staticmethod
    def _collate_batch(batch):
        """Stack the k-th element of every sample into one batch Tensor."""
        if not batch:
            return ()
        return tuple(Tensor(np.stack([sample[k].data for sample in batch])) for k in range(len(batch[0])))


class RandomHorizontalFlip:
    """With probability ``p``, flip the input along its last axis (one draw per call)."""

    def __init__(self, p=0.5):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Probability must be between 0 and 1, got {p}")
        self.p = p

    def __call__(self, x):
        if np.random.random() < self.p:
            return Tensor(np.flip(x.data, axis=-1)) if isinstance(x, Tensor) else np.flip(x, axis=-1).copy()
        return x


class RandomCrop:
    """Zero-pad by ``padding``, then cut a random ``size`` window.

    Images are (H, W), (C, H, W) when the first axis is at most 4, else (H, W, C).
    """

    def __init__(self, size, padding=4):
        self.size = (size, size) if isinstance(size, int) else size
        self.padding = padding

    def __call__(self, x):
        is_tensor = isinstance(x, Tensor)
        data = x.data if is_tensor else x
        target_h, target_w = self.size
        p = self.padding
        if data.ndim == 2:
            h, w = data.shape
            padded = np.pad(data, p, mode="constant")
            top = np.random.randint(0, 2 * p + h - target_h + 1)
            left = np.random.randint(0, 2 * p + w - target_w + 1)
            cropped = padded[top:top + target_h, left:left + target_w]
        elif data.ndim == 3 and data.shape[0] <= 4:
            padded = np.pad(data, ((0, 0), (p, p), (p, p)), mode="constant")
            top, left = np.random.randint(0, 2 * p + 1), np.random.randint(0, 2 * p + 1)
            cropped = padded[:, top:top + target_h, left:left + target_w]
        elif data.ndim == 3:
            padded = np.pad(data, ((p, p), (p, p), (0, 0)), mode="constant")
            top, left = np.random.randint(0, 2 * p + 1), np.random.randint(0, 2 * p + 1)
            cropped = padded[top:top + target_h, left:left + target_w, :]
        else:
            raise ValueError(f"Expected 2D or 3D input, got shape {data.shape}")
        return Tensor(cropped) if is_tensor else cropped


class Compose:
    """Apply ``transforms`` in order."""

    def __init__(self, transforms):
        self.transforms = transforms

    def __call__(self, x):
        for transform in self.transforms:
            x = transform(x)
        return x
