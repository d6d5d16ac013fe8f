"""Datasets, DataLoader batching and shuffling (random.shuffle), and the course's augmentations."""

from __future__ import annotations

import random

import numpy as np
import pytest

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
    ds = TensorDataset(Tensor(X), Tensor(Y))
    assert len(ds) == 10
    x3, y3 = ds[3]
    assert x3.data.tolist() == [6.0, 7.0] and y3.data.tolist() == 3.0
    assert [t.shape for t in ds.tensors] == [(10, 2), (10,)]
    assert TensorDataset(X, Y)[9][1].data.tolist() == 9.0  # arrays are accepted too
    with pytest.raises(IndexError, match="Index 10 out of range"):
        ds[10]
    with pytest.raises(ValueError, match="Tensor 0: 10, Tensor 1: 9"):
        TensorDataset(X, Y[:9])


def test_batches_in_order_by_default():
    loader = DataLoader(TensorDataset(X, Y), batch_size=4)
    assert loader.shuffle is False  # the course's default
    batches = list(loader)
    assert len(loader) == 3 and [b[1].data.tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert batches[0][0].shape == (4, 2) and batches[0][0].dtype == np.float32


def test_shuffle_is_random_shuffle_of_the_indices():
    loader = DataLoader(TensorDataset(X, Y), batch_size=3, shuffle=True)
    random.seed(11)
    epoch1 = np.concatenate([b[1].data for b in loader])
    epoch2 = np.concatenate([b[1].data for b in loader])
    random.seed(11)
    order = list(range(10))
    random.shuffle(order)
    assert epoch1.tolist() == order  # the same order as the course's DataLoader
    assert not np.array_equal(epoch1, epoch2)
    for xb, yb in loader:  # features stay paired with labels
        np.testing.assert_array_equal(xb.data[:, 0], yb.data * 2)


class Squares(Dataset):
    def __len__(self):
        return 5

    def __getitem__(self, idx):
        return Tensor(np.full(2, idx * idx)), Tensor(idx)


def test_generic_dataset_is_collated_and_dataset_is_abstract():
    xb, yb = next(iter(DataLoader(Squares(), batch_size=3)))
    assert xb.data.tolist() == [[0, 0], [1, 1], [4, 4]] and yb.data.tolist() == [0, 1, 2]
    with pytest.raises(TypeError):
        Dataset()


def test_horizontal_flip_is_one_draw_per_call_on_the_last_axis():
    image = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
    np.testing.assert_array_equal(RandomHorizontalFlip(p=1.0)(image), image[..., ::-1])
    assert RandomHorizontalFlip(p=0.0)(image) is image
    np.random.seed(0)
    draws = np.random.random(50) < 0.5
    np.random.seed(0)
    flip = RandomHorizontalFlip(p=0.5)
    flipped = [np.array_equal(flip(image), image[..., ::-1]) for _ in range(50)]
    assert flipped == draws.tolist()
    single = RandomHorizontalFlip(p=1.0)(Tensor(image))
    assert isinstance(single, Tensor) and single.shape == (2, 3, 4)
    with pytest.raises(ValueError, match="between 0 and 1"):
        RandomHorizontalFlip(1.5)


@pytest.mark.parametrize("shape,pad", [((3, 8, 8), ((0, 0), (4, 4), (4, 4))), ((8, 8), ((4, 4), (4, 4))),
                                       ((8, 8, 5), ((4, 4), (4, 4), (0, 0)))])
def test_random_crop_is_a_window_of_the_padded_image(shape, pad):
    image = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    crop = RandomCrop(8)
    assert crop.padding == 4  # the course's default
    padded = np.pad(image, pad)
    for _ in range(10):
        out = crop(image)
        assert out.shape == shape
        if len(shape) == 3 and shape[0] <= 4:
            windows = [padded[:, r:r + 8, c:c + 8] for r in range(9) for c in range(9)]
        else:
            windows = [padded[r:r + 8, c:c + 8] for r in range(9) for c in range(9)]
        assert any(np.array_equal(out, w) for w in windows)
    assert isinstance(crop(Tensor(image)), Tensor)
    with pytest.raises(ValueError, match="Expected 2D or 3D input"):
        crop(np.ones((2, 3, 8, 8)))


def test_compose_applies_in_order():
    image = np.ones((1, 4, 4), dtype=np.float32)
    out = Compose([RandomCrop(4, padding=1), lambda x: x * 2])(image)
    assert out.shape == (1, 4, 4) and set(np.unique(out)) <= {0.0, 2.0}
