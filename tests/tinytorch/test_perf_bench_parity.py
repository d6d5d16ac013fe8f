"""The benchmark compares like with like: tinytorch and its PyTorch twin give the same losses."""

import importlib.util
from pathlib import Path

import pytest

from tests.tinytorch.conftest import require_torch

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_tinytorch.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_tinytorch", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.torch
@pytest.mark.parametrize("case", ["mlp", "cnn", "gpt"])
def test_two_training_steps_match_torch(case):
    torch = require_torch()
    torch.set_num_threads(1)  # the box is shared; threads only add contention here
    bench = load_bench()
    tt_step, torch_step = bench.build_case(case, "tinytorch"), bench.build_case(case, "torch")
    for _ in range(2):  # the second loss also checks the optimizer update
        tt_loss, torch_loss = tt_step(), torch_step()
        assert tt_loss == pytest.approx(torch_loss, rel=2e-5, abs=1e-6)
