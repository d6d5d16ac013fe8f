"""Same seed -> bit-identical weights and losses, in this process and in a fresh one.

As in the course, randomness comes from numpy's global generator and Python's ``random``
(DataLoader shuffling); ``tinytorch.manual_seed(n)`` seeds both.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np

import tinytorch

SCRIPT = """
import json, numpy as np, tinytorch as tt
def run(seed):
    tt.manual_seed(seed)
    x = np.random.default_rng(0).normal(size=(64, 8)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    model = tt.Sequential(tt.Linear(8, 16), tt.GELU(), tt.Dropout(0.2), tt.Linear(16, 2))
    opt = tt.AdamW(model.parameters(), lr=0.01)
    loader = tt.DataLoader(tt.TensorDataset(x, y), batch_size=16, shuffle=True)
    losses = []
    for _ in range(3):
        for xb, yb in loader:
            loss = tt.CrossEntropyLoss()(model(xb), yb)
            opt.zero_grad(); loss.backward(); opt.step()
            losses.append(float(loss.data))
    return losses
"""


def run(seed: int) -> list[float]:
    namespace: dict = {}
    exec(SCRIPT, namespace)
    return namespace["run"](seed)


def test_same_seed_same_losses_bit_for_bit():
    first, second = run(5), run(5)
    assert len(first) == 12
    assert first == second
    assert run(6) != first


def test_same_losses_in_a_fresh_process():
    code = SCRIPT + "\nprint(json.dumps(run(5)))"
    repo = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=repo)
    assert json.loads(out.stdout) == run(5)


def test_manual_seed_is_numpy_and_random_seeding():
    tinytorch.manual_seed(3)
    ours = (tinytorch.Linear(3, 3).weight.data.copy(), random.random())
    np.random.seed(3)
    random.seed(3)
    assert np.array_equal(ours[0], tinytorch.Linear(3, 3).weight.data) and ours[1] == random.random()
