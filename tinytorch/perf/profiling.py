"""Profiler: parameter counts, analytic FLOP counts, memory and latency of tinytorch models.

FLOP convention (the usual one): one multiply-accumulate = 2 FLOPs; bias adds, activations,
softmax, normalisation and pooling are not counted. Counts are per sample (axis 0 of the input
shape is the batch and is divided out), for one forward pass:

- Linear(in, out) on an input (B, *rest, in): 2 * in * out * prod(rest) (the same for a
  QuantizedLinear; a LowRankLinear of rank r: 2 * r * (in + out) * prod(rest))
- Conv2d(Cin -> Cout, kh x kw) giving (Hout, Wout): 2 * Cin * kh * kw * Cout * Hout * Wout
- MultiHeadAttention(d, h) on (B, T, d): its four d x d projections as Linear layers,
  8 * T * d^2, plus the score and mixing matmuls Q K^T and A V: 4 * T^2 * d (independent of h)
- GPT(V, d, L layers, MLP hidden H) on (B, T): L * (8 T d^2 + 4 T^2 d + 4 T d H) + 2 T d V
  (the lm head; embeddings are lookups, 0 FLOPs).

The counts are exact for the model as it actually runs: `count_flops` runs one forward pass on a
zero input and records the input shape every Linear, Conv2d and attention layer sees.
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from tinytorch.core.autograd import no_grad
from tinytorch.core.tensor import Tensor
from tinytorch.perf.benchmarking import Benchmark

BYTES_PER_FLOAT32 = 4
MB = 1024 * 1024


def is_layer(obj) -> bool:
    """Duck-typed layer test: anything with `parameters()` and `forward()`."""
    return callable(getattr(obj, "parameters", None)) and callable(getattr(obj, "forward", None))


def child_slots(obj) -> Iterator[tuple[object, object, object]]:
    """Yield `(container, key, child)` for each direct sub-layer of `obj`, so callers can replace it.

    Looks in instance attributes and in lists, tuples and dicts held by them.
    """
    for name, value in list(vars(obj).items()):
        if is_layer(value):
            yield obj, name, value
        elif isinstance(value, (list, tuple)):
            for i, item in enumerate(value):
                if is_layer(item):
                    yield value, i, item
        elif isinstance(value, dict):
            for key, item in value.items():
                if is_layer(item):
                    yield value, key, item


def iter_layers(model) -> Iterator[object]:
    """`model` and every layer nested inside it, each once, parents before children."""
    seen: set[int] = set()
    stack = [model]
    while stack:
        layer = stack.pop()
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        yield layer
        stack.extend(reversed([child for _, _, child in child_slots(layer)]))


def unique_parameters(model_or_params) -> list[Tensor]:
    """Parameters of a layer/model (or a list of Tensors), each shared Tensor counted once."""
    params = model_or_params.parameters() if is_layer(model_or_params) else list(model_or_params)
    seen: set[int] = set()
    unique = []
    for p in params:
        if id(p) not in seen:
            seen.add(id(p))
            unique.append(p)
    return unique


def _class_names(layer) -> set[str]:
    return {cls.__name__ for cls in type(layer).__mro__}


def _layer_flops(layer, input_shape: tuple[int, ...], output_shape: tuple[int, ...]) -> int:
    """FLOPs of one call of `layer` itself (not its children), for the whole batch."""
    names = _class_names(layer)
    rows = int(np.prod(input_shape[:-1]))
    if "Linear" in names:
        in_features, out_features = layer.weight.shape
        return 2 * in_features * out_features * rows
    if "QuantizedLinear" in names:
        return 2 * layer.in_features * layer.out_features * rows
    if "LowRankLinear" in names:
        (in_features, rank), out_features = layer.first.shape, layer.second.shape[1]
        return 2 * rank * (in_features + out_features) * rows
    if names & {"Conv2d", "Conv2D"}:
        c_out, c_in, kh, kw = layer.weight.shape
        batch, _, h_out, w_out = output_shape
        return 2 * c_in * kh * kw * c_out * h_out * w_out * batch
    if "MultiHeadAttention" in names:
        *lead, seq_len, d_model = input_shape
        return 4 * seq_len * seq_len * d_model * int(np.prod(lead))
    return 0


@contextmanager
def _recording_calls(model, records: list):
    """While active, every layer call inside `model` appends (layer, input_shape, output)."""
    patched = []
    for layer in iter_layers(model):
        original = layer.forward

        def recorder(*args, __layer=layer, __original=original, **kwargs):
            out = __original(*args, **kwargs)
            shape = tuple(args[0].shape) if args and hasattr(args[0], "shape") else ()
            records.append((__layer, shape, out))
            return out

        patched.append((layer, vars(layer).get("forward")))
        object.__setattr__(layer, "forward", recorder)
    try:
        yield
    finally:
        for layer, own_forward in patched:  # restore exactly what was there before
            if own_forward is None:
                object.__delattr__(layer, "forward")
            else:
                object.__setattr__(layer, "forward", own_forward)


def _input_tensor(input_or_shape) -> Tensor:
    if isinstance(input_or_shape, Tensor):
        return input_or_shape
    if isinstance(input_or_shape, np.ndarray):
        return Tensor(input_or_shape)
    shape = tuple(input_or_shape)
    if not shape or not all(isinstance(s, (int, np.integer)) and s > 0 for s in shape):
        raise ValueError(f"expected an input Tensor or a shape of positive ints, got {input_or_shape!r}")
    return Tensor(np.zeros(shape, dtype=np.float32))  # zeros are valid token ids too


def _batch_size(shape: tuple[int, ...]) -> int:
    return shape[0] if len(shape) >= 2 else 1


class Profiler:
    """Measure parameters, FLOPs, memory and latency of a tinytorch layer or model."""

    def count_parameters(self, model) -> int:
        """Number of scalar parameters (shared/tied Tensors counted once)."""
        return int(sum(p.data.size for p in unique_parameters(model)))

    def count_flops(self, model, input_shape) -> int:
        """Forward FLOPs per sample for an input of `input_shape` (batch first); see module doc."""
        x = _input_tensor(input_shape)
        records: list = []
        with no_grad(), _recording_calls(model, records):
            model(x)
        total = sum(_layer_flops(layer, shape, tuple(out.shape)) for layer, shape, out in records)
        return int(total // _batch_size(tuple(x.shape)))

    def measure_memory(self, model, input_or_shape) -> dict[str, float]:
        """Memory of one inference forward pass (under no_grad).

        - parameter bytes: float32 bytes of the unique parameters;
        - activation bytes (estimate): sum of the output sizes of every leaf layer call;
        - peak bytes: tracemalloc peak above the baseline during the forward pass (numpy
          allocations are traced), so it includes temporaries the estimate ignores.
        """
        x = _input_tensor(input_or_shape)
        parameter_bytes = sum(p.data.nbytes for p in unique_parameters(model))
        records: list = []
        was_tracing = tracemalloc.is_tracing()
        if not was_tracing:
            tracemalloc.start()
        tracemalloc.reset_peak()
        baseline = tracemalloc.get_traced_memory()[0]
        try:
            with no_grad(), _recording_calls(model, records):
                model(x)
            peak_bytes = tracemalloc.get_traced_memory()[1] - baseline
        finally:
            if not was_tracing:
                tracemalloc.stop()
        leaves = {id(layer) for layer in iter_layers(model) if not any(True for _ in child_slots(layer))}
        activation_bytes = sum(
            np.asarray(out.data).nbytes
            for layer, _, out in records
            if id(layer) in leaves and hasattr(out, "data")
        )
        return {
            "parameter_bytes": int(parameter_bytes),
            "activation_bytes": int(activation_bytes),
            "peak_bytes": int(peak_bytes),
            "parameter_memory_mb": parameter_bytes / MB,
            "activation_memory_mb": activation_bytes / MB,
            "peak_memory_mb": peak_bytes / MB,
        }

    def measure_latency(self, model, input_tensor, warmup: int = 10, iterations: int = 100) -> float:
        """Median wall time of `model(input)` in milliseconds (under no_grad)."""
        x = _input_tensor(input_tensor)

        def forward():
            with no_grad():
                model(x)

        return Benchmark(type(model).__name__, forward, warmup, iterations, time.perf_counter).run().median_ms
