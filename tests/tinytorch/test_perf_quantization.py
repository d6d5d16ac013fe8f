"""INT8 quantization as the course defines it: asymmetric per-tensor, QuantizedLinear, model helpers."""

import numpy as np
import pytest

from tests.tinytorch.models import LayerMLP
from tinytorch.core.activations import ReLU
from tinytorch.core.layers import Linear
from tinytorch.core.tensor import Tensor
from tinytorch.perf import quantization
from tinytorch.perf.quantization import (
    QuantizedLinear,
    Quantizer,
    compare_model_sizes,
    dequantize_int8,
    quantize_int8,
    quantize_model,
)


def test_quantize_int8_is_the_course_affine_formula():
    x = np.random.default_rng(0).normal(size=(16, 8)).astype(np.float32) * 3 + 1
    q, scale, zero_point = quantize_int8(Tensor(x))
    assert isinstance(q, Tensor) and isinstance(scale, float) and isinstance(zero_point, int)
    assert scale == pytest.approx((float(x.max()) - float(x.min())) / 255)
    assert zero_point == int(np.clip(np.round(-128 - float(x.min()) / scale), -128, 127))
    np.testing.assert_array_equal(q.data, np.clip(np.round(x / scale + zero_point), -128, 127))
    assert q.data.min() == -128 and q.data.max() == 127  # the range is used end to end
    back = dequantize_int8(q, scale, zero_point)
    assert isinstance(back, Tensor) and np.abs(back.data - x).max() <= scale / 2 + 1e-6


def test_constant_tensor_and_quantizer_statics():
    q, scale, zero_point = quantize_int8(Tensor(np.full(4, 3.0)))
    assert q.data.tolist() == [0.0] * 4 and (scale, zero_point) == (1.0, 0)
    assert Quantizer.dequantize_tensor(q, 2.0, -1).data.tolist() == [2.0] * 4
    limits = (quantization.INT8_MIN_VALUE, quantization.INT8_MAX_VALUE, quantization.INT8_RANGE)
    assert limits == (-128, 127, 256)


def test_quantized_linear_matches_the_float_layer_closely():
    np.random.seed(1)
    layer = Linear(32, 8)
    layer.bias.data[...] = np.linspace(-1, 1, 8)
    qlayer = QuantizedLinear(layer)
    assert qlayer.original_layer is layer and qlayer.parameters() == [qlayer.q_weight, qlayer.q_bias]
    w = dequantize_int8(qlayer.q_weight, qlayer.weight_scale, qlayer.weight_zero_point).data
    b = dequantize_int8(qlayer.q_bias, qlayer.bias_scale, qlayer.bias_zero_point).data
    x = np.random.default_rng(2).normal(size=(5, 32)).astype(np.float32)
    np.testing.assert_allclose(qlayer(Tensor(x)).data, x @ w + b, rtol=1e-5, atol=1e-5)
    assert np.abs(qlayer(Tensor(x)).data - layer(Tensor(x)).data).max() < 0.05
    usage = qlayer.memory_usage()
    assert usage == {"original_bytes": (32 * 8 + 8) * 4, "quantized_bytes": 32 * 8 + 8 + 8,
                     "compression_ratio": (32 * 8 + 8) * 4 / (32 * 8 + 16)}
    assert qlayer.input_scale is None
    qlayer.calibrate([Tensor([[-1.0, 0.0]]), Tensor([[3.0]])])
    assert qlayer.input_scale == pytest.approx(4 / 255)
    assert qlayer.input_zero_point == -64  # round(-128 + 63.75)
    no_bias = QuantizedLinear(Linear(4, 2, bias=False))
    assert no_bias.q_bias is None and len(no_bias.parameters()) == 1


def test_quantize_model_reports_and_leaves_the_model_unchanged():
    model = LayerMLP(Linear(16, 8), ReLU(), Linear(8, 4))
    before = [layer for layer in model.layers]
    info = quantize_model(model)
    assert model.layers == before and isinstance(model.layers[0], Linear)
    assert sorted(info["quantized_layers"]) == ["param_0", "param_1", "param_2", "param_3"]
    assert info["quantized_layers"]["param_0"]["original_shape"] == (16, 8)
    n = 16 * 8 + 8 + 8 * 4 + 4
    assert info["original_size_mb"] == pytest.approx(4 * n / 2**20)
    assert info["quantized_size_mb"] == pytest.approx(n / 2**20) and info["compression_ratio"] == 4.0
    compared = Quantizer.compare_models(model, info)
    assert compared["memory_saved_mb"] == pytest.approx(3 * n / 2**20)


def test_compare_model_sizes_counts_int8_bytes_of_quantized_layers():
    model = LayerMLP(Linear(16, 8), ReLU(), Linear(8, 4))
    quantized = LayerMLP(QuantizedLinear(model.layers[0]), ReLU(), model.layers[2])
    sizes = compare_model_sizes(model, quantized)
    assert sizes["original_params"] == sizes["quantized_params"] == 16 * 8 + 8 + 8 * 4 + 4
    assert sizes["original_bytes"] == 4 * sizes["original_params"]
    assert sizes["quantized_bytes"] == (16 * 8 + 8 + 8) + 4 * (8 * 4 + 4)
    assert sizes["memory_saved_percent"] == pytest.approx(
        100 * (sizes["original_bytes"] - sizes["quantized_bytes"]) / sizes["original_bytes"])
