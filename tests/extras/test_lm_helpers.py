"""extras/_harness/lm.py: the language-model extras' shared numpy helpers."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from tests.extras.conftest import REPO


@pytest.fixture
def lm(sandbox_helpers):
    return sandbox_helpers("lm")


def test_importing_the_helpers_never_imports_tinytorch():
    code = "import sys, _harness.lm; print(sorted(m for m in sys.modules if m.startswith('tinytorch')))"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO / "extras", capture_output=True, text=True,
                         check=True, env={"PYTHONPATH": str(REPO / "extras"), "PATH": "/usr/bin:/bin"})
    assert out.stdout.strip() == "[]"


def test_mean_nll_is_the_cross_entropy_of_softmax(lm):
    logits = np.array([[[0.0, np.log(3.0)], [np.log(4.0), 0.0]]], dtype=np.float32)  # (1, 2, 2)
    targets = np.array([[1, 1]])
    expected = -(np.log(3 / 4) + np.log(1 / 5)) / 2
    assert lm.mean_nll(logits, targets) == pytest.approx(expected, rel=1e-6)


def test_windows_are_next_character_pairs(lm):
    ids = np.arange(10)
    x, y = lm.tiled_windows(ids, 4)
    assert x.tolist() == [[0, 1, 2, 3], [4, 5, 6, 7]] and y.tolist() == [[1, 2, 3, 4], [5, 6, 7, 8]]
    x, y = lm.random_windows(ids, 3, 4, np.random.default_rng(0))
    assert x.shape == y.shape == (3, 4) and np.array_equal(x + 1, y)


def test_bigram_counts_and_add_one_loss(lm):
    ids = np.array([0, 1, 0, 1, 1])
    assert lm.bigram_counts(ids, 2).tolist() == [[0, 2], [1, 1]]
    # add-one: P(1|0) = 3/4, P(0|1) = 2/4
    loss = lm.bigram_nll(ids, np.array([[0, 1]]), np.array([[1, 0]]), 2)
    assert loss == pytest.approx(-(np.log(3 / 4) + np.log(2 / 4)) / 2)


def test_greedy_decode_batches_prompts_and_stops_each_row(lm):
    seen = []

    def logits_of(batch):  # always predicts (last id + 1) mod 5
        seen.append(batch.shape)
        out = np.zeros((*batch.shape, 5))
        rows = np.arange(batch.shape[0])[:, None]
        out[rows, np.arange(batch.shape[1])[None], (batch + 1) % 5] = 1.0
        return out

    new = lm.greedy_decode(logits_of, [[0], [2, 3]], lambda seq: seq[-1] == 4, seq_len=8, max_new=10)
    assert new == [[1, 2, 3, 4], [4]]
    assert seen[0] == (2, 2) and seen[1] == (1, 2)  # padded batch, then only the unfinished row


def test_checked_logits_stops_clearly_on_a_wrong_shape(lm):
    with pytest.raises(SystemExit, match=r"expected \(batch, seq, vocab\) = \(2, 3, 7\)"):
        lm.checked_logits(np.zeros((2, 7)), np.zeros((2, 3), dtype=np.int64), 7)


def test_generation_problems_name_each_fault(lm):
    prompt = np.array([3, 1])
    assert lm.generation_problems(np.array([[3.0, 1.0, 4.0]]), prompt, 1, 5) == []
    assert lm.generation_problems([3, 1], prompt, 1, 5) == ["expected 3 ids (prompt + 1), got 2"]
    assert lm.generation_problems([3, 1, 5], prompt, 1, 5) == ["ids must be whole numbers in [0, 5)"]
    assert lm.generation_problems([3, 1, 0.5], prompt, 1, 5) == ["ids must be whole numbers in [0, 5)"]
    assert lm.generation_problems([1, 3, 4], prompt, 1, 5) == ["the output does not start with the prompt"]
