"""fetch: official sources tried in order, content verified, a bad mirror skipped; CIFAR-10 conversion."""

from __future__ import annotations

import gzip
import io
import pickle
import tarfile

import numpy as np
import pytest

from harness import datasets
from harness.datasets import cifar10
from harness.datasets.download import make_downloader


def test_fetch_falls_back_to_the_next_mirror_and_verifies(empty_cache, mnist_copy, tmp_path, monkeypatch):
    bad = tmp_path / "bad-mirror"
    bad.mkdir()
    (bad / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(b"not mnist"))
    mnist = datasets.get("mnist")
    monkeypatch.setattr(type(mnist), "sources", (bad.as_uri() + "/", mnist_copy.as_uri() + "/"))
    target = datasets.fetch("mnist", quiet=True)
    assert target == empty_cache / "mnist"
    assert {s.name: s.state for s in datasets.list_status()}["mnist"] == "verified"
    assert not list(target.glob("*.part"))


def test_fetch_with_no_reachable_source_says_how_to_import_offline(empty_cache, tmp_path, monkeypatch):
    mnist = datasets.get("mnist")
    monkeypatch.setattr(type(mnist), "sources", ((tmp_path / "nowhere").as_uri() + "/",))
    with pytest.raises(datasets.DatasetError, match="harness data import mnist PATH"):
        datasets.fetch("mnist", quiet=True)
    assert not (empty_cache / "mnist").exists()


def test_downloader_writes_atomically(tmp_path):
    source = tmp_path / "src.bin"
    source.write_bytes(b"x" * 100_000)
    make_downloader(quiet=True)(source.as_uri(), tmp_path / "dst.bin")
    assert (tmp_path / "dst.bin").read_bytes() == source.read_bytes()
    assert not (tmp_path / "dst.bin.part").exists()


def batch_bytes(images_chw: np.ndarray, labels: list[int]) -> bytes:
    """An official-format batch: CHW-flattened uint8 rows under b'data', a list under b'labels'."""
    return pickle.dumps({b"data": images_chw.reshape(len(labels), -1), b"labels": labels}, protocol=2)


def test_official_batches_are_converted_to_hwc(tmp_path):
    rng = np.random.RandomState(0)
    images = rng.randint(0, 256, (2, 3, 32, 32)).astype(np.uint8)  # NCHW, as in the pickles
    members = {name: batch_bytes(images, [1, 7]) for name in cifar10.TRAIN_BATCHES + (cifar10.TEST_BATCH,)}
    tarball = tmp_path / cifar10.TARBALL
    with tarfile.open(tarball, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    cifar10._convert_tarball(tarball, tmp_path / "out.npz")
    with np.load(tmp_path / "out.npz") as out:
        assert out["x_train"].shape == (10, 32, 32, 3) and out["x_test"].shape == (2, 32, 32, 3)
        assert np.array_equal(out["x_test"][1, 4, 5], images[1, :, 4, 5])  # pixel (4,5), all 3 channels
        assert out["y_train"].tolist() == [1, 7] * 5


def test_batch_with_a_foreign_global_is_refused():
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    with pytest.raises(datasets.DatasetCorruptError, match="builtins.print, which is not allowed"):
        cifar10._decode_batch(pickle.dumps({b"data": Evil()}), "data_batch_1")


def test_imported_cifar10_has_the_published_array_hashes(dataset_cache, monkeypatch):
    monkeypatch.setenv("HARNESS_DATA", str(dataset_cache))
    assert datasets.verify("cifar10") == dataset_cache / "cifar10"
