"""Int8 quantization: error bounds, per-channel vs per-tensor, QuantizedLinear, quantize_model."""

import numpy as np
import pytest

from tinytorch.core.activations import ReLU
from tinytorch.core.layers import Linear, Sequential
from tinytorch.core.tensor import Tensor
from tinytorch.core.transformers import GPT
from tinytorch.perf.quantization import (
    QuantizedLinear,
    dequantize,
    model_size_bytes,
    quantize_int8,
    quantize_model,
)


def skewed_weights(rng):
    """Columns (output channels) whose magnitudes differ by 1000x, plus an all-zero column."""
    w = rng.normal(size=(64, 8)) * np.array([1e-3, 1e-2, 0.1, 1, 3, 10, 0.5, 0]) + 0.2 * np.arange(8)
    w[:, -1] = 0.0
    return w.astype(np.float32)


@pytest.mark.parametrize("mode", ["symmetric", "affine"])
@pytest.mark.parametrize("axis", [None, 1, 0])
def test_roundtrip_error_at_most_half_a_step(mode, axis):
    w = skewed_weights(np.random.default_rng(0))
    q = quantize_int8(w, mode, axis=axis)
    assert q.values.dtype == np.int8
    error = np.abs(q.dequantize() - w)
    assert np.all(error <= q.scale / 2 * (1 + 1e-5) + 1e-12)
    if mode == "symmetric":
        assert np.all(q.zero_point == 0) and q.values.min() >= -127
    assert np.all(q.dequantize()[w == 0] == 0)  # zero is exactly representable


def test_symmetric_scale_and_values_by_hand():
    values, scale, zero_point = quantize_int8(Tensor([-2.54, 0.0, 1.27]))  # the course's tuple form
    assert scale.shape == () and f"{scale:.5f}" == f"{2.54 / 127:.5f}" and int(zero_point) == 0
    np.testing.assert_array_equal(values, [-127, 0, 64])


def test_per_channel_scales_broadcast_per_output_feature():
    w = np.array([[1.0, -100.0], [0.5, 50.0]], dtype=np.float32)
    q = quantize_int8(w, axis=1)
    np.testing.assert_allclose(q.scale, [[1 / 127, 100 / 127]])
    np.testing.assert_array_equal(q.values, [[127, -127], [64, 64]])


def test_affine_uses_the_full_range_for_one_sided_data():
    x = np.linspace(0.0, 5.1, 256, dtype=np.float32)
    q = quantize_int8(x, "affine")
    assert q.values.min() == -128 and q.values.max() == 127
    assert q.scale.item() == pytest.approx(5.1 / 255)
    sym = quantize_int8(x, "symmetric")
    assert np.abs(q.dequantize() - x).max() < np.abs(sym.dequantize() - x).max()


def test_per_channel_beats_per_tensor_on_skewed_weights():
    w = skewed_weights(np.random.default_rng(1))
    per_tensor = np.abs(quantize_int8(w).dequantize() - w)
    per_channel = np.abs(quantize_int8(w, axis=1).dequantize() - w)
    assert per_channel.mean() < per_tensor.mean() / 2
    # small-magnitude channels are wiped out per tensor but kept per channel
    small = slice(0, 3)
    assert per_channel[:, small].mean() < per_tensor[:, small].mean() / 10
    assert np.all(quantize_int8(w).values[:, 0] == 0)
    assert np.count_nonzero(quantize_int8(w, axis=1).values[:, 0]) > 50


def test_dequantize_formula():
    np.testing.assert_allclose(dequantize(np.array([-128, 0, 127], dtype=np.int8), 0.5, -128), [0, 64, 127.5])


def test_bad_inputs_rejected():
    with pytest.raises(ValueError, match="mode"):
        quantize_int8(np.ones(3, dtype=np.float32), "weird")
    with pytest.raises(ValueError, match="axis 2 out of range"):
        quantize_int8(np.ones((2, 2), dtype=np.float32), axis=2)
    with pytest.raises(ValueError, match="NaN"):
        quantize_int8(np.array([1.0, np.nan], dtype=np.float32))


@pytest.mark.parametrize("compute", ["dequantize", "integer"])
@pytest.mark.parametrize("mode", ["symmetric", "affine"])
def test_quantized_linear_close_to_float(compute, mode):
    rng = np.random.default_rng(2)
    linear = Linear(64, 32)
    x = Tensor(rng.normal(size=(16, 64)).astype(np.float32))
    expected = linear(x).data
    got = QuantizedLinear(linear, mode=mode, compute=compute)(x).data
    rel = np.abs(got - expected).max() / np.abs(expected).max()
    assert rel < 0.02, rel
    assert not np.array_equal(got, expected)  # it really is quantized


def test_integer_gemm_equals_dequantized_math_exactly():
    rng = np.random.default_rng(3)
    linear = Linear(20, 5)
    x = rng.normal(size=(4, 20)).astype(np.float32)
    layer = QuantizedLinear(linear, mode="affine", compute="integer")
    xq = quantize_int8(x, "affine")
    reference = xq.dequantize().astype(np.float64) @ layer.weight_q.dequantize() + linear.bias.data
    np.testing.assert_allclose(layer(Tensor(x)).data, reference, rtol=1e-5, atol=1e-6)


def test_quantized_linear_shape_error_names_shapes():
    with pytest.raises(ValueError, match=r"in_features 4.*\(2, 3\)"):
        QuantizedLinear(Linear(4, 2))(Tensor(np.ones((2, 3))))


def test_quantize_model_replaces_linears_and_reports_sizes():
    rng = np.random.default_rng(4)
    model = Sequential(Linear(784, 256), ReLU(), Linear(256, 10))
    x = Tensor(rng.normal(size=(8, 784)).astype(np.float32))
    before = model(x).data
    stats = quantize_model(model)
    assert stats["layers_quantized"] == 2
    assert all(isinstance(layer, QuantizedLinear) for layer in (model.layers[0], model.layers[2]))
    float_bytes = 4 * (784 * 256 + 256 + 256 * 10 + 10)
    # int8 weights + per-channel float32 scale and int32 zero point + float32 bias
    int8_bytes = 784 * 256 + 256 * 10 + (4 + 4 + 4) * (256 + 10)
    assert stats["float_bytes"] == float_bytes and stats["quantized_bytes"] == int8_bytes
    assert stats["compression_ratio"] == pytest.approx(float_bytes / int8_bytes)
    assert model_size_bytes(model) == int8_bytes
    after = model(x).data
    assert np.abs(after - before).max() < 0.02 * np.abs(before).max()
    assert model.parameters() == []


def test_quantize_model_reaches_linears_nested_in_a_gpt():
    gpt = GPT(vocab_size=30, embed_dim=16, num_layers=2, num_heads=2, max_seq_len=8)
    ids = np.random.default_rng(5).integers(0, 30, size=(2, 8))
    before = gpt(ids).data
    stats = quantize_model(gpt)
    assert stats["layers_quantized"] == 2 * (4 + 2) + 1  # q, k, v, out, fc1, fc2 per block + lm head
    assert isinstance(gpt.blocks[1].attention.q_proj, QuantizedLinear)
    assert np.abs(gpt(ids).data - before).max() < 0.03 * np.abs(before).max()
