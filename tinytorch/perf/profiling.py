"""Profiler, as the course defines it: parameter counts, FLOP counts, memory and latency of models.

FLOP counts follow the course's rules, by the model's class name: ``Linear`` counts
``2 * in_features * out_features`` (batch and leading dims ignored); ``Conv2d`` counts
``(H // stride) * (W // stride) * kh * kw * C_in * C_out * 2`` (padding and kernel overhang
ignored, as the course); a model with ``.layers`` (or a ``Sequential``) sums its layers, feeding
each the previous layer's output width, and counts ``prod(shape)`` for a parameter-free layer;
anything else counts ``prod(input_shape)``. Addition: a ``GPT`` on (batch, T) counts its exact
forward FLOPs per sequence (every projection, attention's QK^T and AV, the MLPs and the head).
"""

from __future__ import annotations

import time
import tracemalloc
from collections import defaultdict

import numpy as np

from tinytorch.core.layers import Linear  # noqa: F401 (names the course's module imports)
from tinytorch.core.spatial import Conv2d  # noqa: F401
from tinytorch.core.tensor import Tensor

BYTES_PER_FLOAT32 = 4
KB_TO_BYTES = 1024
MB_TO_BYTES = 1024 * 1024


def _pair(value) -> tuple[int, int]:
    return (value, value) if np.isscalar(value) else tuple(value)


def _gpt_flops(model, seq_len: int) -> int:
    """Forward FLOPs of one sequence through a GPT (2 per multiply-accumulate; embeddings are lookups)."""
    def linear(layer):
        return 2 * seq_len * layer.weight.shape[0] * layer.weight.shape[1]

    total = linear(model.lm_head)
    for block in model.blocks:
        attn = block.attention
        total += sum(linear(p) for p in (attn.q_proj, attn.k_proj, attn.v_proj, attn.out_proj,
                                         block.mlp.linear1, block.mlp.linear2))
        total += 4 * seq_len * seq_len * attn.embed_dim  # Q K^T and weights @ V over all heads
    return total


class Profiler:
    """Counts parameters and FLOPs, measures memory and latency, and profiles forward/backward passes."""

    def __init__(self):
        self.measurements = {}
        self.operation_counts = defaultdict(int)
        self.memory_tracker = None

    def count_parameters(self, model) -> int:
        """Scalars in ``model.layers``' parameters, else ``model.parameters()``, else weight and bias."""
        if hasattr(model, "layers"):
            return sum(p.data.size for layer in model.layers for p in layer.parameters())
        if hasattr(model, "parameters"):
            return sum(p.data.size for p in model.parameters())
        if hasattr(model, "weight"):
            bias = getattr(model, "bias", None)
            return model.weight.data.size + (0 if bias is None else bias.data.size)
        return 0

    def count_flops(self, model, input_shape) -> int:
        """Forward FLOPs by the course's rules (see the module docstring)."""
        input_shape = tuple(input_shape)
        name = type(model).__name__
        if name == "Linear":
            return int(input_shape[-1] * model.weight.shape[1] * 2)
        if name == "Conv2d":
            (kh, kw), (sh, sw) = model.kernel_size, _pair(model.stride)
            out_h, out_w = input_shape[-2] // sh, input_shape[-1] // sw
            return int(out_h * out_w * kh * kw * model.in_channels * model.out_channels * 2)
        if name == "Sequential" or hasattr(model, "layers"):
            total, shape = 0, input_shape
            for layer in model.layers:
                total += self.count_flops(layer, shape)
                if hasattr(layer, "weight"):
                    shape = shape[:-1] + (layer.weight.shape[1],)
            return total
        if name == "GPT" and hasattr(model, "blocks"):
            return _gpt_flops(model, input_shape[-1])
        return int(np.prod(input_shape))

    def measure_memory(self, model, input_shape):
        """One forward pass on ``np.random.randn(*input_shape)`` under tracemalloc.

        Returns MB: ``parameter_memory_mb`` (parameters * 4 B), ``activation_memory_mb`` (twice the
        input, the course's estimate), ``peak_memory_mb`` (traced peak, at least their sum) and
        ``memory_efficiency`` = their sum / peak, at most 1.
        """
        started = not tracemalloc.is_tracing()
        if started:
            tracemalloc.start()
        baseline = tracemalloc.get_traced_memory()[0]
        parameter_mb = self.count_parameters(model) * BYTES_PER_FLOAT32 / MB_TO_BYTES
        dummy_input = Tensor(np.random.randn(*input_shape))
        activation_mb = dummy_input.data.nbytes * 2 / MB_TO_BYTES
        model.forward(dummy_input)
        peak_mb = (tracemalloc.get_traced_memory()[1] - baseline) / MB_TO_BYTES
        if started:
            tracemalloc.stop()
        useful = parameter_mb + activation_mb
        return {
            "parameter_memory_mb": parameter_mb,
            "activation_memory_mb": activation_mb,
            "peak_memory_mb": max(peak_mb, useful),
            "memory_efficiency": min(useful / max(peak_mb, 0.001), 1.0),
        }

    def measure_latency(self, model, input_tensor, warmup=10, iterations=100) -> float:
        """Median ms of ``model.forward(input_tensor)`` over ``iterations`` runs after ``warmup`` calls."""
        for _ in range(warmup):
            model.forward(input_tensor)
        times = []
        for _ in range(iterations):
            start = time.perf_counter()
            model.forward(input_tensor)
            times.append((time.perf_counter() - start) * 1000)
        return float(np.median(times))

    def profile_layer(self, layer, input_shape):
        """Type, parameters, FLOPs, latency (3 warmup, 10 runs), GFLOP/s and the memory dict of one layer."""
        dummy_input = Tensor(np.random.randn(*input_shape))
        flops = self.count_flops(layer, input_shape)
        memory = self.measure_memory(layer, input_shape)
        latency = self.measure_latency(layer, dummy_input, warmup=3, iterations=10)
        return {
            "layer_type": layer.__class__.__name__,
            "parameters": self.count_parameters(layer),
            "flops": flops,
            "latency_ms": latency,
            "gflops_per_second": (flops / 1e9) / max(latency / 1000, 1e-6),
            **memory,
        }

    def profile_forward_pass(self, model, input_tensor):
        """Parameters, FLOPs, memory, latency (5 warmup, 20 runs) and the course's bottleneck heuristic."""
        flops = self.count_flops(model, input_tensor.shape)
        memory = self.measure_memory(model, input_tensor.shape)
        latency_ms = self.measure_latency(model, input_tensor, warmup=5, iterations=20)
        seconds = max(latency_ms / 1000.0, 1e-6)
        gflops_per_second = (flops / 1e9) / seconds
        bandwidth = memory["peak_memory_mb"] / seconds
        memory_bound = bandwidth > gflops_per_second * 100
        return {
            "parameters": self.count_parameters(model),
            "flops": flops,
            "latency_ms": latency_ms,
            **memory,
            "gflops_per_second": gflops_per_second,
            "memory_bandwidth_mbs": bandwidth,
            "computational_efficiency": min(gflops_per_second / 100.0, 1.0),  # vs a 100 GFLOP/s CPU
            "is_memory_bound": memory_bound,
            "is_compute_bound": not memory_bound,
            "bottleneck": "memory" if memory_bound else "compute",
        }

    def profile_backward_pass(self, model, input_tensor, _loss_fn=None):
        """The course's estimate of a training step: backward = 2x the forward's FLOPs and latency."""
        forward = self.profile_forward_pass(model, input_tensor)
        backward_flops = forward["flops"] * 2
        backward_latency_ms = forward["latency_ms"] * 2
        gradient_mb = forward["parameter_memory_mb"]
        total_flops = forward["flops"] + backward_flops
        total_latency_ms = forward["latency_ms"] + backward_latency_ms
        return {
            "forward_flops": forward["flops"],
            "forward_latency_ms": forward["latency_ms"],
            "forward_memory_mb": forward["peak_memory_mb"],
            "backward_flops": backward_flops,
            "backward_latency_ms": backward_latency_ms,
            "gradient_memory_mb": gradient_mb,
            "total_flops": total_flops,
            "total_latency_ms": total_latency_ms,
            "total_memory_mb": forward["parameter_memory_mb"] + forward["activation_memory_mb"] + gradient_mb,
            "total_gflops_per_second": (total_flops / 1e9) / (total_latency_ms / 1000.0),
            "optimizer_memory_estimates": {"sgd": 0, "adam": gradient_mb * 2, "adamw": gradient_mb * 2},
            "memory_efficiency": forward["memory_efficiency"],
            "bottleneck": forward["bottleneck"],
        }


def quick_profile(model, input_tensor, profiler=None):
    """``profile_forward_pass`` with a new Profiler unless one is given."""
    return (profiler or Profiler()).profile_forward_pass(model, input_tensor)


def analyze_weight_distribution(model, percentiles=[10, 25, 50, 75, 90]):  # noqa: B006 (course default)
    """Statistics of |w| over all parameters: count, mean, std, min, max, the given percentiles and
    the percentage below 0.001, 0.01 and 0.1 (keys ``below_threshold_0001``, ``_001``, ``_01``)."""
    if hasattr(model, "parameters"):
        params = model.parameters()
    elif hasattr(model, "weight"):
        params = [model.weight]
    else:
        return {"error": "No weights found"}
    weights = np.concatenate([np.asarray(p.data, dtype=np.float64).ravel() for p in params])
    magnitudes = np.abs(weights)
    stats = {"total_weights": len(weights), "mean": float(np.mean(magnitudes)),
             "std": float(np.std(magnitudes)), "min": float(np.min(magnitudes)),
             "max": float(np.max(magnitudes))}
    for p in percentiles:
        stats[f"percentile_{p}"] = float(np.percentile(magnitudes, p))
    for threshold in (0.001, 0.01, 0.1):
        stats[f"below_threshold_{str(threshold).replace('.', '')}"] = (
            np.sum(magnitudes < threshold) / len(weights) * 100)
    return stats
