"""Profiler: exact parameter and FLOP counts against hand formulas; memory and latency."""

import numpy as np
import pytest

from tinytorch.core.activations import ReLU
from tinytorch.core.attention import MultiHeadAttention
from tinytorch.core.layers import Flatten, Linear, Sequential
from tinytorch.core.spatial import Conv2d, MaxPool2d
from tinytorch.core.tensor import Tensor
from tinytorch.core.transformers import GPT
from tinytorch.perf.compression import low_rank_linear
from tinytorch.perf.profiling import Profiler
from tinytorch.perf.quantization import quantize_model

profiler = Profiler()


def gpt_param_count(v, d, n_layers, t_max, hidden):
    block = 4 * (d * d + d) + 2 * 2 * d + (d * hidden + hidden) + (hidden * d + d)
    return v * d + t_max * d + n_layers * block + 2 * d + d * v  # lm head has no bias


@pytest.mark.parametrize("n_in,n_out", [(128, 64), (3, 1), (784, 256)])
def test_linear_parameters_and_flops(n_in, n_out):
    layer = Linear(n_in, n_out)
    assert profiler.count_parameters(layer) == n_in * n_out + n_out
    assert profiler.count_flops(layer, (1, n_in)) == 2 * n_in * n_out
    assert profiler.count_flops(layer, (32, n_in)) == 2 * n_in * n_out  # per sample
    assert profiler.count_flops(layer, (4, 10, n_in)) == 10 * 2 * n_in * n_out  # per position


def test_mlp_counts_sum_over_layers():
    mlp = Sequential(Linear(784, 256), ReLU(), Linear(256, 128), ReLU(), Linear(128, 10))
    assert profiler.count_parameters(mlp) == 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10
    assert profiler.count_flops(mlp, (64, 784)) == 2 * (784 * 256 + 256 * 128 + 128 * 10)


@pytest.mark.parametrize("c_in,c_out,k,stride,padding,size", [(3, 6, 5, 1, 0, 32), (6, 16, 3, 2, 1, 14),
                                                               (1, 4, 2, 1, 2, 7)])
def test_conv2d_counts(c_in, c_out, k, stride, padding, size):
    conv = Conv2d(c_in, c_out, k, stride=stride, padding=padding)
    out = (size + 2 * padding - k) // stride + 1
    assert profiler.count_parameters(conv) == c_out * c_in * k * k + c_out
    assert profiler.count_flops(conv, (2, c_in, size, size)) == 2 * c_in * k * k * c_out * out * out


def test_lenet_flops():
    lenet = Sequential(Conv2d(3, 6, 5), ReLU(), MaxPool2d(2), Conv2d(6, 16, 5), ReLU(), MaxPool2d(2),
                       Flatten(), Linear(400, 120), ReLU(), Linear(120, 84), ReLU(), Linear(84, 10))
    expected = 2 * (3 * 25 * 6 * 28 * 28 + 6 * 25 * 16 * 10 * 10 + 400 * 120 + 120 * 84 + 84 * 10)
    assert profiler.count_flops(lenet, (8, 3, 32, 32)) == expected


@pytest.mark.parametrize("d,heads,seq", [(16, 4, 8), (64, 4, 64), (12, 3, 5)])
def test_attention_flops(d, heads, seq):
    mha = MultiHeadAttention(d, heads)
    assert profiler.count_parameters(mha) == 4 * (d * d + d)
    assert profiler.count_flops(mha, (3, seq, d)) == 8 * seq * d * d + 4 * seq * seq * d


@pytest.mark.parametrize("v,d,n_layers,heads,seq", [(65, 64, 2, 4, 64), (11, 8, 1, 2, 5)])
def test_gpt_counts(v, d, n_layers, heads, seq):
    gpt = GPT(v, d, n_layers, heads, max_seq_len=seq)
    hidden = 4 * d
    assert profiler.count_parameters(gpt) == gpt_param_count(v, d, n_layers, seq, hidden)
    expected = n_layers * (8 * seq * d * d + 4 * seq * seq * d + 4 * seq * d * hidden) + 2 * seq * d * v
    assert profiler.count_flops(gpt, (2, seq)) == expected


def test_tracing_leaves_layers_untouched():
    layer = Linear(4, 3)
    profiler.count_flops(layer, (1, 4))
    assert "forward" not in vars(layer)


def test_measure_memory_parameters_and_activations():
    model = Sequential(Linear(1024, 512), ReLU(), Linear(512, 10))
    memory = profiler.measure_memory(model, (32, 1024))
    assert memory["parameter_bytes"] == 4 * (1024 * 512 + 512 + 512 * 10 + 10)
    assert memory["activation_bytes"] == 4 * (32 * 512 + 32 * 512 + 32 * 10)
    assert memory["peak_bytes"] >= 4 * 32 * 512  # at least the largest activation was allocated
    assert memory["parameter_memory_mb"] == pytest.approx(memory["parameter_bytes"] / 2**20)
    same = profiler.measure_memory(model, Tensor(np.ones((32, 1024), dtype=np.float32)))
    assert same["activation_bytes"] == memory["activation_bytes"]


def test_measure_latency_runs_warmup_plus_iterations():
    calls = []

    class Counting(Linear):
        def forward(self, x):
            calls.append(1)
            return super().forward(x)

    latency = profiler.measure_latency(Counting(8, 8), Tensor(np.ones((2, 8))), warmup=2, iterations=5)
    assert len(calls) == 7 and latency > 0


def test_bad_input_shape_is_named():
    with pytest.raises(ValueError, match="shape of positive ints"):
        profiler.count_flops(Linear(2, 2), (0, 2))


def test_compressed_layers_are_counted():
    mlp = Sequential(Linear(64, 32), ReLU(), Linear(32, 10))
    mlp.layers[0] = low_rank_linear(mlp.layers[0], 4)
    assert profiler.count_flops(mlp, (5, 64)) == 2 * 4 * (64 + 32) + 2 * 32 * 10
    quantize_model(mlp)
    assert profiler.count_flops(mlp, (5, 64)) == 2 * 4 * (64 + 32) + 2 * 32 * 10
