"""extras/_harness/data.py duplicates a little of the host's logic; these keep the copies equal."""

from __future__ import annotations

import pytest

from harness.datasets import cifar10, mnist
from harness.datasets.cache import cache_root


def test_loader_hashes_equal_the_host_registry(sandbox_data):
    assert sandbox_data.MNIST_FILES == mnist.FILES
    assert sandbox_data.CIFAR10_ARRAYS == cifar10.ARRAYS


def test_loader_default_cache_dir_equals_the_host_one(sandbox_data, monkeypatch, tmp_path):
    monkeypatch.delenv("HARNESS_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert sandbox_data.default_cache_root() == cache_root()
    monkeypatch.setenv("HARNESS_DATA", str(tmp_path / "mine"))
    assert sandbox_data.default_cache_root() == cache_root() == tmp_path / "mine"


def test_loader_without_data_says_how_to_get_it(sandbox_data, monkeypatch, tmp_path):
    monkeypatch.delenv("HARNESS_DATA_DIR", raising=False)
    monkeypatch.setenv("HARNESS_DATA", str(tmp_path / "nothing"))
    with pytest.raises(SystemExit, match="harness data import mnist PATH.*harness data fetch mnist"):
        sandbox_data.load_mnist()


def test_loader_in_the_sandbox_without_the_mount_names_the_criteria_field(sandbox_data, monkeypatch,
                                                                          tmp_path):
    monkeypatch.setenv("HARNESS_DATA_DIR", str(tmp_path))
    with pytest.raises(SystemExit, match="add `cifar10` to the criterion's `datasets:` list"):
        sandbox_data.load_cifar10()


def test_loader_rejects_a_corrupted_cache(sandbox_data, monkeypatch, tmp_path, shared_datasets):
    import gzip
    import shutil

    shutil.copytree(shared_datasets / "mnist", tmp_path / "mnist")
    labels = tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz"
    data = bytearray(gzip.decompress(labels.read_bytes()))
    data[20] = (data[20] + 1) % 10
    labels.write_bytes(gzip.compress(bytes(data)))
    monkeypatch.delenv("HARNESS_DATA_DIR", raising=False)
    monkeypatch.setenv("HARNESS_DATA", str(tmp_path))
    with pytest.raises(SystemExit, match="t10k-labels-idx1-ubyte.gz has the wrong content"):
        sandbox_data.load_mnist()
