"""The sandbox view holds training data and test inputs only; held-out labels stay on the host."""

from __future__ import annotations

import gzip
import hashlib
import os

import numpy as np
import pytest

from harness import datasets
from harness.datasets.cache import view_dir

MNIST_TEST_LABELS_SHA256 = "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"


def files_under(root):
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)


MNIST_TEST_IMAGES_SHA256 = "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"


def test_mnist_view_is_the_training_split_only(dataset_cache):
    view = datasets.sandbox_view("mnist")
    assert files_under(view) == ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]
    digests = {hashlib.sha256(gzip.decompress((view / f).read_bytes())).hexdigest()
               for f in files_under(view)}
    assert not digests & {MNIST_TEST_LABELS_SHA256, MNIST_TEST_IMAGES_SHA256}


def test_cifar10_view_is_the_training_split_only(dataset_cache):
    view = datasets.sandbox_view("cifar10")
    assert files_under(view) == ["x_train.npy", "y_train.npy"]
    shapes = {f: np.load(view / f, mmap_mode="r").shape for f in files_under(view)}
    assert shapes == {"x_train.npy": (50000, 32, 32, 3), "y_train.npy": (50000,)}


def test_the_host_reads_the_test_split_the_sandbox_never_sees(dataset_cache):
    images, labels = datasets.heldout_split("mnist", "test")
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    images, labels = datasets.heldout_split("cifar10", "test")
    assert images.shape == (10000, 32, 32, 3) and np.bincount(labels).tolist() == [1000] * 10


def test_view_is_readable_by_others_and_lives_outside_the_dataset_dirs(dataset_cache):
    view = datasets.sandbox_view("mnist")
    assert view == view_dir("mnist") and view.parent.name == ".views"
    assert os.stat(view).st_mode & 0o005 == 0o005  # the container's unprivileged user can list it
    assert all(os.stat(view / f).st_mode & 0o004 for f in os.listdir(view))


def test_tampered_view_is_rebuilt_without_the_planted_file(empty_cache, mnist_copy):
    datasets.import_from("mnist", mnist_copy)  # a private cache: other workers share the session one
    view = datasets.sandbox_view("mnist")
    planted = view / "t10k-labels-idx1-ubyte.gz"
    planted.write_bytes((mnist_copy / planted.name).read_bytes())
    assert datasets.sandbox_view("mnist") == view
    assert not planted.exists()


def test_heldout_labels_are_the_real_ones(dataset_cache):
    mnist = datasets.heldout_labels("mnist", "test")
    assert mnist.dtype == np.int64 and mnist.shape == (10000,)
    assert mnist[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    train_counts = np.bincount(datasets.heldout_labels("mnist", "train"))
    assert train_counts.tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    cifar = datasets.heldout_labels("cifar10", "test")
    assert cifar[:10].tolist() == [3, 8, 8, 0, 6, 6, 1, 6, 3, 1]
    assert np.bincount(cifar).tolist() == [1000] * 10


@pytest.mark.parametrize("name", ["mnist", "cifar10"])
def test_sandbox_loader_reads_the_view_without_labels(dataset_cache, sandbox_data, monkeypatch, name):
    monkeypatch.setenv("HARNESS_DATA_DIR", str(datasets.sandbox_view(name).parent))
    splits = getattr(sandbox_data, f"load_{name}")()
    assert splits.y_test is None and splits.x_test is None
    assert len(splits.x_train) == len(splits.y_train) and splits.x_train.dtype == np.uint8
    assert np.array_equal(splits.y_train, datasets.heldout_labels(name, "train"))


@pytest.mark.parametrize("name", ["mnist", "cifar10"])
def test_loader_outside_the_harness_reads_the_cache_with_labels(dataset_cache, sandbox_data, monkeypatch,
                                                                name):
    monkeypatch.delenv("HARNESS_DATA_DIR", raising=False)
    splits = getattr(sandbox_data, f"load_{name}")()
    assert np.array_equal(splits.y_test, datasets.heldout_labels(name, "test"))
