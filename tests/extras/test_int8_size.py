"""compression's int8 size is counted on the host, and only when the held arrays are the model's weights."""

from __future__ import annotations

import numpy as np
import pytest

from harness.evidence import EvidenceProblem
from harness.evidence.classic import _int8_size, layer_mlp_forward
from harness.evidence.kit import Prepared

SIZES = (12, 8, 3)


@pytest.fixture
def model():
    rng = np.random.default_rng(0)
    trained = {}
    for i, (n_in, n_out) in enumerate(zip(SIZES[:-1], SIZES[1:], strict=True)):
        trained[f"layers.{2 * i}.weight"] = rng.standard_normal((n_in, n_out)) / np.sqrt(n_in)
        trained[f"layers.{2 * i}.bias"] = 0.1 * rng.standard_normal(n_out)
    images = rng.uniform(0, 1, (50, SIZES[0]))
    return trained, Prepared({"int8.x": images})


def quantize(values: np.ndarray):
    """Per-tensor affine int8: codes, and the values they stand for."""
    scale = (values.max() - values.min()) / 255
    zero = np.round(-128 - values.min() / scale)
    codes = np.clip(np.round(values / scale + zero), -128, 127)
    return codes, (codes - zero) * scale


def evidence_of(trained, prepared, held, dtype=np.int8):
    """The run's evidence: per quantized layer, its parameters() arrays and item sizes, and the
    quantized model's own outputs (computed from the dequantized weights)."""
    evidence, dequantized = {}, {}
    for name, values in trained.items():
        codes, dequantized[name] = quantize(values)
        layer, slot = int(name.split(".")[1]), 0 if name.endswith("weight") else 1
        array = held(name, values, codes)
        evidence[f"int8.params.l{layer}.p{slot}"] = array.astype(np.float64)
        evidence[f"int8.itemsize.l{layer}.p{slot}"] = np.array([np.dtype(dtype).itemsize if array is codes
                                                                else array.dtype.itemsize])
    evidence["int8.out"] = layer_mlp_forward(dequantized, prepared.public["int8.x"])
    return evidence


def test_int8_codes_that_reproduce_the_outputs_count_one_byte_each(model):
    trained, prepared = model
    evidence = evidence_of(trained, prepared, lambda name, values, codes: codes)
    assert _int8_size(evidence, trained, prepared)["int8_size_ratio"].value == pytest.approx(0.25)


def test_codes_in_float32_arrays_count_one_byte_too(model):
    trained, prepared = model
    evidence = evidence_of(trained, prepared, lambda name, values, codes: codes.astype(np.float32))
    assert _int8_size(evidence, trained, prepared)["int8_size_ratio"].value == pytest.approx(0.25)


def test_float_weights_kept_count_four_bytes(model):
    trained, prepared = model
    evidence = evidence_of(trained, prepared, lambda name, values, codes: values.astype(np.float32))
    assert _int8_size(evidence, trained, prepared)["int8_size_ratio"].value == pytest.approx(1.0)


def test_codes_that_are_not_the_models_weights_earn_nothing(model):
    """A layer that computes in float while parameters() shows random int8 codes."""
    trained, prepared = model
    rng = np.random.default_rng(1)
    evidence = evidence_of(trained, prepared,
                           lambda name, values, codes: rng.integers(-128, 128, codes.shape).astype(np.int8))
    with pytest.raises(EvidenceProblem, match="do not reproduce the quantized model's"):
        _int8_size(evidence, trained, prepared)


def test_nothing_held_for_a_weight_is_named(model):
    trained, prepared = model
    evidence = evidence_of(trained, prepared, lambda name, values, codes: codes)
    del evidence["int8.params.l2.p0"], evidence["int8.itemsize.l2.p0"], evidence["int8.params.l2.p1"]
    with pytest.raises(EvidenceProblem, match="layer 2's parameters"):
        _int8_size(evidence, trained, prepared)
