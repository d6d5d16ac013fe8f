"""Datasets, DataLoader batching/shuffling, and augmentations."""

from __future__ import annotations

import numpy as np
import pytest

import tinytorch
from tinytorch.core.dataloader import (
    Compose,
    DataLoader,
    Dataset,
    RandomCrop,
    RandomHorizontalFlip,
    TensorDataset,
)
from tinytorch.core.tensor import Tensor

X = np.arange(20, dtype=np.float32).reshape(10, 2)
Y = np.arange(10)


def test_tensor_dataset_items_and_length_check():
    ds = TensorDataset(X, Tensor(Y))
    assert len(ds) == 10
    x3, y3 = ds[3]
    assert x3.data.tolist() == [6.0, 7.0] and y3.data.tolist() == 3.0
    assert ds.arrays[0] is X  # no copy of the whole dataset is kept
    assert [t.shape for t in ds.tensors] == [(10, 2), (10,)]
    with pytest.raises(ValueError, match=r"same first dimension.*\(10, 2\), \(9,\)"):
        TensorDataset(X, Y[:9])


def test_batches_in_order_with_and_without_drop_last():
    assert DataLoader(TensorDataset(X, Y)).shuffle  # the course's default
    loader = DataLoader(TensorDataset(X, Y), batch_size=4, shuffle=False)
    batches = list(loader)
    assert len(loader) == 3 and [b[1].data.tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert batches[0][0].shape == (4, 2) and batches[0][0].dtype == np.float32
    dropped = DataLoader(TensorDataset(X, Y), batch_size=4, shuffle=False, drop_last=True)
    assert len(dropped) == 2 and [len(b[1]) for b in dropped] == [4, 4]


def test_shuffle_is_a_seeded_permutation_that_changes_per_epoch():
    loader = DataLoader(TensorDataset(X, Y), batch_size=3, shuffle=True)
    tinytorch.manual_seed(11)
    epoch1 = np.concatenate([b[1].data for b in loader])
    epoch2 = np.concatenate([b[1].data for b in loader])
    tinytorch.manual_seed(11)
    again = np.concatenate([b[1].data for b in loader])
    assert sorted(epoch1.tolist()) == list(range(10))
    np.testing.assert_array_equal(epoch1, again)
    assert not np.array_equal(epoch1, epoch2)
    # features stay paired with labels
    for xb, yb in loader:
        np.testing.assert_array_equal(xb.data[:, 0], yb.data * 2)


class Squares(Dataset):
    def __len__(self):
        return 5

    def __getitem__(self, i):
        return np.full(2, i * i, dtype=np.float32), i


def test_generic_dataset_is_collated():
    xb, yb = next(iter(DataLoader(Squares(), batch_size=3, shuffle=False)))
    assert xb.data.tolist() == [[0, 0], [1, 1], [4, 4]] and yb.data.tolist() == [0, 1, 2]


def test_bad_batch_size():
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        DataLoader(TensorDataset(X), batch_size=0)


def test_horizontal_flip_flips_whole_images():
    images = np.arange(2 * 3 * 2 * 4, dtype=np.float32).reshape(2, 3, 2, 4)
    np.testing.assert_array_equal(RandomHorizontalFlip(p=1.0)(images), images[..., ::-1])
    np.testing.assert_array_equal(RandomHorizontalFlip(p=0.0)(images), images)
    tinytorch.manual_seed(0)
    out = RandomHorizontalFlip(p=0.5)(np.repeat(images[:1], 200, axis=0))
    flipped = np.all(out == images[0, ..., ::-1], axis=(1, 2, 3))
    assert np.all(flipped | np.all(out == images[0], axis=(1, 2, 3)))
    assert 60 < flipped.sum() < 140
    single = RandomHorizontalFlip(p=1.0)(Tensor(images[0]))
    assert isinstance(single, Tensor) and single.shape == (3, 2, 4)


def test_random_crop_is_a_window_of_the_padded_image():
    images = np.random.default_rng(0).normal(size=(16, 3, 8, 8)).astype(np.float32)
    out = RandomCrop(8, padding=2)(images)
    assert out.shape == (16, 3, 8, 8)
    padded = np.pad(images, ((0, 0), (0, 0), (2, 2), (2, 2)))
    for i in range(16):
        windows = [padded[i, :, r : r + 8, c : c + 8] for r in range(5) for c in range(5)]
        assert any(np.array_equal(out[i], w) for w in windows)
    assert RandomCrop((4, 6))(images[0]).shape == (3, 4, 6)
    with pytest.raises(ValueError, match="larger than the padded image"):
        RandomCrop(10)(images)
    with pytest.raises(ValueError, match=r"CHW image or an NCHW batch, got shape \(8, 8\)"):
        RandomCrop(4)(images[0, 0])


def test_compose_applies_in_order():
    images = np.ones((2, 1, 4, 4), dtype=np.float32)
    out = Compose([RandomCrop(4, padding=1), lambda x: x * 2])(images)
    assert out.shape == (2, 1, 4, 4) and set(np.unique(out)) <= {0.0, 2.0}
