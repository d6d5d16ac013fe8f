"""Import, verify, list and the errors that say which command fixes a missing or corrupt dataset."""

from __future__ import annotations

import gzip
import os

import pytest

from harness import datasets
from harness.datasets.cache import cache_root


def rewrite_gz(path, mutate) -> None:
    """Replace a .gz file by a valid gzip of mutated content (a wrong dataset, not a broken file)."""
    data = bytearray(gzip.decompress(path.read_bytes()))
    mutate(data)
    path.write_bytes(gzip.compress(bytes(data)))


def test_import_copies_verifies_and_lists(empty_cache, mnist_copy):
    target = datasets.import_from("mnist", mnist_copy)
    assert target == empty_cache / "mnist"
    assert sorted(os.listdir(target)) == sorted(datasets.get("mnist").cache_files() + (".verified.json",))
    states = {s.name: s.state for s in datasets.list_status()}
    assert states == {"mnist": "verified", "cifar10": "missing"}
    assert datasets.verify("mnist") == target


def test_import_accepts_uncompressed_idx_files(empty_cache, mnist_copy):
    for packed in mnist_copy.glob("*labels*.gz"):  # the small files: compressing images is slow
        packed.with_suffix("").write_bytes(gzip.decompress(packed.read_bytes()))
        packed.unlink()
    datasets.import_from("mnist", mnist_copy)
    assert datasets.heldout_labels("mnist", "test")[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]


def test_import_of_wrong_content_fails_and_leaves_the_cache_untouched(empty_cache, mnist_copy):
    rewrite_gz(mnist_copy / "t10k-labels-idx1-ubyte.gz", lambda d: d.__setitem__(100, (d[100] + 1) % 10))
    with pytest.raises(datasets.DatasetCorruptError) as err:
        datasets.import_from("mnist", mnist_copy)
    message = str(err.value)
    assert "t10k-labels-idx1-ubyte.gz" in message and "sha256 mismatch" in message
    assert str(mnist_copy) in message and "harness data fetch mnist" in message
    assert not (empty_cache / "mnist").exists()
    assert [p for p in empty_cache.iterdir() if p.name.startswith(".staging")] == []


def test_import_of_a_folder_without_the_files_names_them(empty_cache, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(datasets.DatasetMissingError, match="train-images-idx3-ubyte"):
        datasets.import_from("mnist", tmp_path / "empty")


def test_truncated_gzip_is_reported_as_corrupt(empty_cache, mnist_copy):
    path = mnist_copy / "train-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(datasets.DatasetCorruptError, match="not a readable gzip"):
        datasets.import_from("mnist", mnist_copy)


def test_missing_dataset_error_says_which_command_fixes_it(empty_cache):
    for call in (lambda: datasets.sandbox_view("mnist"), lambda: datasets.heldout_labels("cifar10", "test"),
                 lambda: datasets.verify("mnist")):
        with pytest.raises(datasets.DatasetMissingError) as err:
            call()
        assert "harness data import" in str(err.value) and "harness data fetch" in str(err.value)
        assert err.value.exit_code == 3


def test_cache_corrupted_after_import_is_caught_by_verify_and_by_use(empty_cache, mnist_copy):
    datasets.import_from("mnist", mnist_copy)
    labels = empty_cache / "mnist" / "train-labels-idx1-ubyte.gz"
    rewrite_gz(labels, lambda d: d.__setitem__(8, (d[8] + 1) % 10))
    with pytest.raises(datasets.DatasetCorruptError, match="train-labels-idx1-ubyte.gz.*harness data"):
        datasets.verify("mnist")
    with pytest.raises(datasets.DatasetCorruptError):
        datasets.sandbox_view("mnist")
    assert {s.name: s.state for s in datasets.list_status()}["mnist"] == "unverified"


def test_unknown_dataset_and_split_are_usage_errors(empty_cache):
    with pytest.raises(datasets.UnknownDatasetError, match="known datasets: cifar10, mnist") as err:
        datasets.get("imagenet")
    assert err.value.exit_code == 2
    with pytest.raises(datasets.DatasetError, match="no split 'validation'"):
        datasets.heldout_labels("mnist", "validation")


def test_cache_root_defaults_to_the_user_cache_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("HARNESS_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "tinytorch-harness" / "datasets"
