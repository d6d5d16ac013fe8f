"""End to end: a script run by the local runner, given both views, finds no held-out image or label."""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import textwrap

import numpy as np

from harness import datasets
from harness.runners.base import Job
from harness.runners.local import LocalRunner

PROBE = textwrap.dedent('''\
    """Hash every file under $HARNESS_DATA_DIR (decompressed too, and 1-D arrays as int64 ids)."""
    import gzip, hashlib, json, os
    import numpy as np
    root, seen = os.environ["HARNESS_DATA_DIR"], {}
    for folder, _, files in os.walk(root, followlinks=True):
        for name in files:
            path = os.path.join(folder, name)
            raw = open(path, "rb").read()
            digests = [hashlib.sha256(raw).hexdigest()]
            if name.endswith(".gz"):
                digests.append(hashlib.sha256(gzip.decompress(raw)).hexdigest())
            if name.endswith(".npy"):
                array = np.load(path, mmap_mode="r")
                if array.ndim == 1:  # label-shaped: compare as int64 ids
                    digests.append(hashlib.sha256(array.astype(np.int64).tobytes()).hexdigest())
            seen[os.path.relpath(path, root)] = digests
    with open(os.path.join(os.environ["HARNESS_OUT"], "seen.json"), "w") as f:
        json.dump(seen, f)
''')


def test_script_in_the_sandbox_cannot_find_test_labels(dataset_cache, monkeypatch, tmp_path):
    monkeypatch.setenv("HARNESS_DATA", str(dataset_cache))
    (tmp_path / "extras").mkdir()
    (tmp_path / "extras" / "probe.py").write_text(PROBE)
    (tmp_path / "sub" / "tinytorch").mkdir(parents=True)
    views = tuple((name, datasets.sandbox_view(name)) for name in ("mnist", "cifar10"))
    job = Job(job_id="probe", criterion_id="probe", script="probe.py", extras_dir=tmp_path / "extras",
              submission_dir=tmp_path / "sub", datasets=views)
    result = LocalRunner().run(job)
    try:
        assert result.exit_code == 0, result.stderr
        seen = json.loads((result.out_dir / "seen.json").read_text())
    finally:
        shutil.rmtree(result.out_dir, ignore_errors=True)
    assert sorted(seen) == ["cifar10/x_train.npy", "cifar10/y_train.npy",
                            "mnist/train-images-idx3-ubyte.gz", "mnist/train-labels-idx1-ubyte.gz"]
    all_digests = {d for digests in seen.values() for d in digests}
    mnist_labels = gzip_sha256(dataset_cache / "mnist" / "t10k-labels-idx1-ubyte.gz")
    cifar_labels = hashlib.sha256(datasets.heldout_labels("cifar10", "test").astype(np.int64).tobytes())
    assert mnist_labels not in all_digests and cifar_labels.hexdigest() not in all_digests


def gzip_sha256(path) -> str:
    return hashlib.sha256(gzip.decompress(path.read_bytes())).hexdigest()
