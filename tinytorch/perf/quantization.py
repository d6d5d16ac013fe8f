"""INT8 quantization, as the course defines it: asymmetric per-tensor quantization, QuantizedLinear,
and model-level helpers that walk ``model.layers``.

``quantize_int8(t)`` maps [min, max] onto [-128, 127]: ``scale = (max - min) / 255``,
``zero_point = round(-128 - min / scale)`` (clipped), ``q = clip(round(x / scale + zero_point))``;
a constant tensor gives zeros, scale 1.0, zero point 0. The int8 values are returned in a
(float32) Tensor, as the course does; ``dequantize_int8`` computes ``(q - zero_point) * scale``.
"""

from __future__ import annotations

import numpy as np

from tinytorch.core.activations import ReLU  # noqa: F401 (names the course's module imports)
from tinytorch.core.layers import Linear  # noqa: F401
from tinytorch.core.tensor import Tensor

INT8_MIN_VALUE = -128
INT8_MAX_VALUE = 127
INT8_RANGE = 256
EPSILON = 1e-8
BYTES_PER_FLOAT32 = 4
BYTES_PER_INT8 = 1
MB_TO_BYTES = 1024 * 1024


def _affine_params(min_val: float, max_val: float) -> tuple[float, int]:
    """Scale and zero point mapping [min_val, max_val] onto the int8 range (scale 1, zero 0 if constant)."""
    if abs(max_val - min_val) < EPSILON:
        return 1.0, 0
    scale = (max_val - min_val) / (INT8_RANGE - 1)
    zero_point = int(np.clip(int(np.round(INT8_MIN_VALUE - min_val / scale)), INT8_MIN_VALUE, INT8_MAX_VALUE))
    return scale, zero_point


class Quantizer:
    """The course's quantization operations as static methods."""

    @staticmethod
    def quantize_tensor(tensor):
        """(int8 values as a Tensor, scale: float, zero_point: int)."""
        data = tensor.data
        min_val, max_val = float(np.min(data)), float(np.max(data))
        if abs(max_val - min_val) < EPSILON:
            return Tensor(np.zeros_like(data, dtype=np.int8)), 1.0, 0
        scale, zero_point = _affine_params(min_val, max_val)
        q = np.clip(np.round(data / scale + zero_point), INT8_MIN_VALUE, INT8_MAX_VALUE).astype(np.int8)
        return Tensor(q), scale, zero_point

    @staticmethod
    def dequantize_tensor(q_tensor, scale, zero_point):
        return Tensor((q_tensor.data.astype(np.float32) - zero_point) * scale)

    @staticmethod
    def quantize_model(model, calibration_data=None):
        """Quantize every parameter of ``model.layers`` (the model itself is left unchanged).

        Returns ``quantized_layers`` ({"param_i": {quantized, scale, zero_point, original_shape}}),
        ``original_size_mb``, ``quantized_size_mb`` (1 byte per value) and ``compression_ratio``.
        """
        quantized_layers, original_bytes, total_elements = {}, 0, 0
        params = [p for layer in model.layers for p in layer.parameters()]
        for idx, param in enumerate(params):
            original_bytes += param.data.nbytes
            total_elements += param.data.size
            q, scale, zero_point = Quantizer.quantize_tensor(param)
            quantized_layers[f"param_{idx}"] = {"quantized": q, "scale": scale, "zero_point": zero_point,
                                                "original_shape": param.data.shape}
        return {
            "quantized_layers": quantized_layers,
            "original_size_mb": original_bytes / MB_TO_BYTES,
            "quantized_size_mb": total_elements / MB_TO_BYTES,
            "compression_ratio": original_bytes / total_elements if total_elements > 0 else 1.0,
        }

    @staticmethod
    def compare_models(original_model, quantized_info):
        """original_mb, quantized_mb, compression_ratio, memory_saved_mb of a ``quantize_model`` result."""
        return {
            "original_mb": quantized_info["original_size_mb"],
            "quantized_mb": quantized_info["quantized_size_mb"],
            "compression_ratio": quantized_info["compression_ratio"],
            "memory_saved_mb": quantized_info["original_size_mb"] - quantized_info["quantized_size_mb"],
        }


def quantize_int8(tensor):
    """(int8 values as a Tensor, scale, zero_point) of a float tensor."""
    return Quantizer.quantize_tensor(tensor)


def dequantize_int8(q_tensor, scale, zero_point):
    """The float32 Tensor ``(q - zero_point) * scale``."""
    return Quantizer.dequantize_tensor(q_tensor, scale, zero_point)


def quantize_model(model, calibration_data=None):
    """``Quantizer.quantize_model``: a dict of quantized parameters and sizes; the model is unchanged."""
    return Quantizer.quantize_model(model, calibration_data)


class QuantizedLinear:
    """A Linear layer with int8 weight and bias (each with its own scale and zero point).

    ``forward(x)`` dequantizes and computes ``x @ W + b`` (differentiable in ``x``);
    ``parameters()`` returns ``[q_weight, q_bias]``; ``calibrate(sample_inputs)`` sets
    ``input_scale``/``input_zero_point`` from the inputs' range.
    """

    def __init__(self, linear_layer):
        self.original_layer = linear_layer
        self.q_weight, self.weight_scale, self.weight_zero_point = quantize_int8(linear_layer.weight)
        if linear_layer.bias is not None:
            self.q_bias, self.bias_scale, self.bias_zero_point = quantize_int8(linear_layer.bias)
        else:
            self.q_bias = self.bias_scale = self.bias_zero_point = None
        self.input_scale = None
        self.input_zero_point = None

    def calibrate(self, sample_inputs):
        values = np.concatenate([np.asarray(x.data).ravel() for x in sample_inputs])
        self.input_scale, self.input_zero_point = _affine_params(float(np.min(values)), float(np.max(values)))

    def forward(self, x):
        result = x.matmul(dequantize_int8(self.q_weight, self.weight_scale, self.weight_zero_point))
        if self.q_bias is not None:
            result = result + dequantize_int8(self.q_bias, self.bias_scale, self.bias_zero_point)
        return result

    def __call__(self, x):
        return self.forward(x)

    def parameters(self):
        return [self.q_weight] if self.q_bias is None else [self.q_weight, self.q_bias]

    def memory_usage(self):
        """Bytes before (float32) and after (int8 values + two float32 scales) and their ratio."""
        layer = self.original_layer
        original = layer.weight.data.size + (0 if layer.bias is None else layer.bias.data.size)
        original *= BYTES_PER_FLOAT32
        quantized = (self.q_weight.data.size * BYTES_PER_INT8 + BYTES_PER_FLOAT32 * 2
                     + (0 if self.q_bias is None else self.q_bias.data.size * BYTES_PER_INT8))
        return {"original_bytes": original, "quantized_bytes": quantized,
                "compression_ratio": original / quantized if quantized > 0 else 1.0}


def _params(layer) -> list:
    return layer.parameters() if hasattr(layer, "parameters") else []


def compare_model_sizes(original_model, quantized_model):
    """Parameters and bytes of two models with ``.layers`` (QuantizedLinear layers count their int8 bytes)."""
    original_params = sum(p.data.size for layer in original_model.layers for p in _params(layer))
    original_bytes = original_params * BYTES_PER_FLOAT32
    quantized_params = quantized_bytes = 0
    for layer in quantized_model.layers:
        sizes = [p.data.size for p in _params(layer)]
        quantized_params += sum(sizes)
        if isinstance(layer, QuantizedLinear):
            quantized_bytes += layer.memory_usage()["quantized_bytes"]
        else:
            quantized_bytes += sum(sizes) * BYTES_PER_FLOAT32
    saved = original_bytes - quantized_bytes
    return {
        "original_params": original_params,
        "quantized_params": quantized_params,
        "original_bytes": original_bytes,
        "quantized_bytes": quantized_bytes,
        "compression_ratio": original_bytes / quantized_bytes if quantized_bytes > 0 else 1.0,
        "memory_saved_mb": saved / MB_TO_BYTES,
        "memory_saved_percent": saved / original_bytes * 100 if original_bytes > 0 else 0,
    }
