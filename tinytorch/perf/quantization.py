"""Int8 post-training quantization: symmetric or affine, per-tensor or per-channel.

Conventions:
- symmetric: q = clip(round(x / s), -127, 127), zero point 0, s = max|x| / 127;
- affine:    q = clip(round(x / s) + z, -128, 127), s = (max - min) / 255 with the range widened
  to include 0 (so 0.0 is exact), z = round(-128 - min / s);
- dequantize: x_hat = (q - z) * s. Inside the range, |x - x_hat| <= s / 2 for every element.
- per-channel: pass `axis`, the axis that keeps its own scale (Linear weight (in, out): axis=1,
  the output features; Conv2d weight (out, in, kh, kw): axis=0).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from tinytorch.core.layers import Layer, Linear
from tinytorch.core.tensor import Tensor
from tinytorch.perf.profiling import child_slots, iter_layers, unique_parameters

MODES = ("symmetric", "affine")
COMPUTES = ("dequantize", "integer")


class QuantizedTensor(NamedTuple):
    """Int8 values with the float32 scale and int32 zero point that map them back to floats.

    A tuple, so the course's `q, scale, zero_point = quantize_int8(x)` works. Per tensor, scale and
    zero point are 0-d arrays (use them like numbers); per channel they broadcast against values.
    """

    values: np.ndarray  # int8
    scale: np.ndarray  # float32
    zero_point: np.ndarray  # int32

    @property
    def nbytes(self) -> int:
        """Storage: one byte per value plus the scales and zero points."""
        return int(self.values.nbytes + self.scale.nbytes + self.zero_point.nbytes)

    def dequantize(self) -> np.ndarray:
        return dequantize(self.values, self.scale, self.zero_point)


def _as_array(x, where: str) -> np.ndarray:
    data = x.data if isinstance(x, Tensor) else np.asarray(x)
    if not np.issubdtype(data.dtype, np.floating):
        raise TypeError(f"{where}: expects float values, got dtype {data.dtype}")
    if not np.all(np.isfinite(data)):
        raise ValueError(f"{where}: input has NaN or inf; quantize finite values only")
    return data.astype(np.float32, copy=False)


def quantize_int8(x, mode: str = "symmetric", axis: int | None = None) -> QuantizedTensor:
    """Quantize `x` (Tensor or array) to int8; `axis=None` is per-tensor, an int is per-channel."""
    if mode not in MODES:
        raise ValueError(f"quantize_int8: mode must be one of {MODES}, got {mode!r}")
    data = _as_array(x, "quantize_int8")
    if axis is None:
        reduce_axes = None
    else:
        if not -data.ndim <= axis < data.ndim:
            raise ValueError(f"quantize_int8: axis {axis} out of range for shape {data.shape}")
        reduce_axes = tuple(i for i in range(data.ndim) if i != axis % data.ndim)
    lo = np.minimum(data.min(axis=reduce_axes, keepdims=True), 0.0)
    hi = np.maximum(data.max(axis=reduce_axes, keepdims=True), 0.0)
    if mode == "symmetric":
        scale = np.maximum(np.abs(lo), hi) / 127.0
        scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
        zero_point = np.zeros_like(scale, dtype=np.int32)
        values = np.clip(np.rint(data / scale), -127, 127)
    else:
        scale = (hi - lo) / 255.0
        scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
        zero_point = np.clip(np.rint(-128.0 - lo / scale), -128, 127).astype(np.int32)
        values = np.clip(np.rint(data / scale) + zero_point, -128, 127)
    if axis is None:
        scale, zero_point = scale.reshape(()), zero_point.reshape(())
    return QuantizedTensor(values.astype(np.int8), scale, zero_point)


def dequantize(values: np.ndarray, scale, zero_point=0) -> np.ndarray:
    """Map int8 `values` back to float32: (values - zero_point) * scale."""
    return ((np.asarray(values, dtype=np.float32) - np.asarray(zero_point, dtype=np.float32)) * scale).astype(
        np.float32
    )


dequantize_int8 = dequantize  # the course's name


class QuantizedLinear(Layer):
    """Inference copy of a Linear with int8 weights (per output feature by default).

    `compute="dequantize"`: y = x @ dequantize(W_q) + b (float GEMM on the restored weights).
    `compute="integer"`: x is quantized per tensor (affine) on the fly, then
    y = s_x * s_w * ((x_q - z_x) @ (W_q - z_w)) + b; the integer GEMM is done exactly in float64
    (every partial sum is an integer below 2**53). The bias stays float32. No gradients flow to
    the quantized weights: this layer is for inference.
    """

    def __init__(self, linear: Linear, mode: str = "symmetric", per_channel: bool = True,
                 compute: str = "dequantize"):
        super().__init__()
        if compute not in COMPUTES:
            raise ValueError(f"QuantizedLinear: compute must be one of {COMPUTES}, got {compute!r}")
        self.in_features, self.out_features = linear.weight.shape
        self.weight_q = quantize_int8(linear.weight, mode, axis=1 if per_channel else None)
        self.bias = None if linear.bias is None else np.array(linear.bias.data, dtype=np.float32)
        self.compute = compute

    def parameters(self) -> list:
        """As the course's QuantizedLinear: what the layer stores (int8 weight codes, float bias)."""
        return [Tensor(self.weight_q.values)] + ([] if self.bias is None else [Tensor(self.bias)])

    @property
    def nbytes(self) -> int:
        return self.weight_q.nbytes + (0 if self.bias is None else self.bias.nbytes)

    def forward(self, x) -> Tensor:
        data = x.data if isinstance(x, Tensor) else np.asarray(x, dtype=np.float32)
        if data.shape[-1] != self.in_features:
            raise ValueError(
                f"QuantizedLinear: input last dim {data.shape[-1]} != in_features {self.in_features} "
                f"(input shape {data.shape}, weight ({self.in_features}, {self.out_features}))"
            )
        if self.compute == "dequantize":
            y = data @ self.weight_q.dequantize()  # restored on the fly: only int8 weights are kept
        else:
            xq = quantize_int8(data, "affine")
            acc = (xq.values.astype(np.float64) - xq.zero_point) @ (
                self.weight_q.values.astype(np.float64) - self.weight_q.zero_point
            )
            y = acc * (xq.scale.astype(np.float64) * self.weight_q.scale)
        if self.bias is not None:
            y = y + self.bias
        return Tensor(y.astype(np.float32))


def model_size_bytes(model) -> int:
    """Storage of a model: float32 parameters plus the int8 weights of its QuantizedLinear layers."""
    quantized = sum(layer.nbytes for layer in iter_layers(model) if isinstance(layer, QuantizedLinear))
    return int(quantized + sum(p.data.nbytes for p in unique_parameters(model)))


def quantize_model(
    model, mode: str = "symmetric", per_channel: bool = True, compute: str = "dequantize"
) -> dict:
    """Replace every Linear inside `model` (in place) by a QuantizedLinear; return size statistics.

    Returns {"layers_quantized", "float_bytes", "quantized_bytes", "compression_ratio"} where the
    byte counts are `model_size_bytes` before and after.
    """
    if isinstance(model, Linear):
        raise TypeError("quantize_model: got a bare Linear; use QuantizedLinear(linear) for one layer")
    float_bytes = model_size_bytes(model)
    replaced = 0
    for layer in list(iter_layers(model)):
        for container, key, child in list(child_slots(layer)):
            if isinstance(child, Linear):
                quantized = QuantizedLinear(child, mode, per_channel, compute)
                if isinstance(container, tuple):
                    raise TypeError(f"quantize_model: cannot replace a Linear kept in a tuple in {layer!r}")
                if isinstance(container, (list, dict)):
                    container[key] = quantized
                else:
                    setattr(container, key, quantized)
                replaced += 1
    quantized_bytes = model_size_bytes(model)
    return {
        "layers_quantized": replaced,
        "float_bytes": float_bytes,
        "quantized_bytes": quantized_bytes,
        "compression_ratio": float_bytes / quantized_bytes if quantized_bytes else float("inf"),
    }
