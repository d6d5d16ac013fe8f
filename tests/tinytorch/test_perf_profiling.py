"""Profiler: the course's parameter and FLOP rules, memory dict, latency, profiles; our exact GPT count."""

import numpy as np
import pytest

from tests.tinytorch.models import LayerMLP
from tinytorch.core.activations import ReLU
from tinytorch.core.attention import MultiHeadAttention
from tinytorch.core.layers import Flatten, Linear, Sequential
from tinytorch.core.spatial import Conv2d, MaxPool2d
from tinytorch.core.tensor import Tensor
from tinytorch.core.transformer import GPT
from tinytorch.perf import profiling
from tinytorch.perf.profiling import Profiler, analyze_weight_distribution, quick_profile

profiler = Profiler()


@pytest.mark.parametrize("n_in,n_out", [(128, 64), (3, 1), (784, 256)])
def test_linear_parameters_and_flops(n_in, n_out):
    layer = Linear(n_in, n_out)
    assert profiler.count_parameters(layer) == n_in * n_out + n_out
    for shape in [(1, n_in), (32, n_in), (4, 10, n_in)]:  # the course counts one row, whatever the batch
        assert profiler.count_flops(layer, shape) == 2 * n_in * n_out


@pytest.mark.parametrize("model_cls", [Sequential, LayerMLP])
def test_layers_models_sum_their_layers_and_count_activations_by_size(model_cls):
    mlp = model_cls(Linear(784, 256), ReLU(), Linear(256, 128), ReLU(), Linear(128, 10))
    assert profiler.count_parameters(mlp) == 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10
    linear = 2 * (784 * 256 + 256 * 128 + 128 * 10)
    assert profiler.count_flops(mlp, (1, 784)) == linear + 256 + 128
    assert profiler.count_flops(mlp, (64, 784)) == linear + 64 * (256 + 128)  # ReLU: prod of its input shape


@pytest.mark.parametrize("c_in,c_out,k,stride,padding,size", [(3, 6, 5, 1, 0, 32), (6, 16, 3, 2, 1, 14),
                                                               (1, 4, 2, 1, 2, 7)])
def test_conv2d_counts_follow_the_course_formula(c_in, c_out, k, stride, padding, size):
    conv = Conv2d(c_in, c_out, k, stride=stride, padding=padding)
    assert profiler.count_parameters(conv) == c_out * c_in * k * k + c_out
    out = size // stride  # the course: input // stride, padding and kernel overhang ignored
    assert profiler.count_flops(conv, (2, c_in, size, size)) == out * out * k * k * c_in * c_out * 2


def test_lenet_follows_the_course_shape_propagation():
    lenet = Sequential(Conv2d(3, 6, 5), ReLU(), MaxPool2d(2), Flatten(), Linear(6 * 14 * 14, 10))
    conv = 32 * 32 * 25 * 3 * 6 * 2
    # after Conv2d the course sets the last dim to weight.shape[1] (= in_channels): (8, 3, 32, 3)
    parameter_free = 3 * (8 * 3 * 32 * 3)
    linear = 3 * 10 * 2  # the course's Linear rule reads input_shape[-1] (here 3), not in_features
    assert profiler.count_flops(lenet, (8, 3, 32, 32)) == conv + parameter_free + linear


def test_other_models_count_the_input_size():
    assert profiler.count_flops(MultiHeadAttention(16, 4), (3, 8, 16)) == 3 * 8 * 16
    assert profiler.count_flops(ReLU(), (5, 7)) == 35


@pytest.mark.parametrize("v,d,n_layers,heads,seq", [(65, 64, 2, 4, 64), (11, 8, 1, 2, 5)])
def test_gpt_counts_exactly(v, d, n_layers, heads, seq):
    gpt = GPT(v, d, n_layers, heads, max_seq_len=seq)
    hidden = 4 * d
    block = 4 * (d * d + d) + 2 * 2 * d + (d * hidden + hidden) + (hidden * d + d)
    assert profiler.count_parameters(gpt) == v * d + seq * d + n_layers * block + 2 * d + d * v
    expected = n_layers * (8 * seq * d * d + 4 * seq * seq * d + 4 * seq * d * hidden) + 2 * seq * d * v
    assert profiler.count_flops(gpt, (2, seq)) == expected


def test_measure_memory_returns_the_course_keys():
    model = LayerMLP(Linear(1024, 512), ReLU(), Linear(512, 10))
    memory = profiler.measure_memory(model, (32, 1024))
    assert set(memory) == {"parameter_memory_mb", "activation_memory_mb", "peak_memory_mb",
                           "memory_efficiency"}
    params = 1024 * 512 + 512 + 512 * 10 + 10
    assert memory["parameter_memory_mb"] == pytest.approx(params * 4 / 2**20)
    assert memory["activation_memory_mb"] == pytest.approx(2 * 32 * 1024 * 4 / 2**20)  # twice the input
    assert memory["peak_memory_mb"] >= memory["parameter_memory_mb"] + memory["activation_memory_mb"]
    assert 0 < memory["memory_efficiency"] <= 1.0


def test_measure_latency_runs_warmup_plus_iterations():
    calls = []

    class Counting(Linear):
        def forward(self, x):
            calls.append(1)
            return super().forward(x)

    latency = profiler.measure_latency(Counting(8, 8), Tensor(np.ones((2, 8))), warmup=2, iterations=5)
    assert len(calls) == 7 and latency > 0


def test_profiles_have_the_course_keys_and_consistent_numbers():
    model = LayerMLP(Linear(16, 8), ReLU(), Linear(8, 4))
    x = Tensor(np.ones((2, 16)))
    layer = profiler.profile_layer(Linear(16, 8), (2, 16))
    assert layer["layer_type"] == "Linear" and layer["parameters"] == 136 and layer["flops"] == 256
    forward = profiler.profile_forward_pass(model, x)
    assert forward["flops"] == profiler.count_flops(model, (2, 16)) and forward["parameters"] == 172
    assert forward["bottleneck"] in ("memory", "compute")
    assert forward["is_memory_bound"] != forward["is_compute_bound"]
    backward = profiler.profile_backward_pass(model, x)
    assert backward["backward_flops"] == 2 * backward["forward_flops"]
    assert backward["total_flops"] == 3 * backward["forward_flops"]
    assert backward["optimizer_memory_estimates"]["adam"] == pytest.approx(2 * backward["gradient_memory_mb"])
    assert quick_profile(model, x)["flops"] == forward["flops"]
    assert set(Profiler().__dict__) == {"measurements", "operation_counts", "memory_tracker"}
    assert (profiling.KB_TO_BYTES, profiling.MB_TO_BYTES) == (1024, 2**20)


def test_analyze_weight_distribution():
    layer = Linear(2, 2)
    layer.weight.data[...] = [[0.0005, -0.005], [0.05, -0.5]]
    stats = analyze_weight_distribution(layer, percentiles=[50])
    magnitudes = np.array([0.0005, 0.005, 0.05, 0.5, 0, 0], dtype=np.float32).astype(np.float64)
    assert stats["total_weights"] == 6 and stats["max"] == pytest.approx(0.5)
    assert stats["percentile_50"] == pytest.approx(np.percentile(magnitudes, 50))
    assert stats["below_threshold_0001"] == pytest.approx(3 / 6 * 100)  # 0.0005 and the two zero biases
    assert stats["below_threshold_01"] == pytest.approx(5 / 6 * 100)
    assert analyze_weight_distribution(object()) == {"error": "No weights found"}
