"""baseline_profile and compression on a course-style package: it passes; one-line bugs fail the right check.

The package is tests/fixtures/course_tinytorch (the course's API and behaviour, see its README);
each copy below changes one place of it.
"""

from __future__ import annotations

import re

import pytest

from tests.extras.conftest import COURSE, checks_by_name, failed_checks

pytestmark = pytest.mark.slow



def test_baseline_profile_passes_on_the_course_package(run_extra):
    result = run_extra("baseline_profile", COURSE)
    assert result.verdict == "passed", (result.reason, failed_checks(result), result.run.stderr_tail)
    checks = checks_by_name(result)
    assert checks["parameter_count"].value == 0
    assert checks["flop_count"].value == 0.0  # the course's convention, activations included
    assert checks["parameter_memory"].value == 0.0
    assert 0.25 <= checks["latency_measured"].value <= 4.0
    assert checks["kv_cache_speedup"].value > 4.0  # 12-20x measured; the rule is 2
    # the grader draws the layer sizes per run: not the stand-in 784-128-64-10 of a direct run
    assert result.metrics["parameter_count"] == result.metrics["parameter_count_expected"]
    assert result.metrics["parameter_count"] != 784 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10


def test_compression_passes_on_the_course_package(run_extra, mnist_cache):
    result = run_extra("compression", COURSE)
    assert result.verdict == "passed", (result.reason, failed_checks(result), result.run.stderr_tail)
    checks = checks_by_name(result)
    assert checks["prune_sparsity"].value == pytest.approx(0.5, abs=0.005)
    assert checks["int8_size"].value == 0.25  # codes in float32 Tensors count one byte each
    assert checks["lowrank_is_optimal"].value == pytest.approx(1.0, abs=1e-4)
    assert checks["float_test_accuracy"].value > 0.8  # scored on the host from the predictions artifact
    assert result.metrics["lowrank_rank"] == 16
    assert "Your quantize_model left the layers as they were" in result.run.stdout_tail  # 2025: a summary


IN_PLACE_QUANTIZE_MODEL = """\
    for i, layer in enumerate(model.layers):  # the 2026 course's: Linear -> QuantizedLinear, in place
        if isinstance(layer, Linear):
            model.layers[i] = QuantizedLinear(layer)
"""


def test_an_in_place_quantize_model_is_used_as_it_is(run_extra, course_copy, mnist_cache):
    old = "    return Quantizer.quantize_model(model, calibration_data)\n"
    package = course_copy("in_place", "perf/quantization.py", [(old, IN_PLACE_QUANTIZE_MODEL)])
    result = run_extra("compression", package)
    assert result.verdict == "passed", (result.reason, failed_checks(result), result.run.stderr_tail)
    assert checks_by_name(result)["int8_size"].value == 0.25
    assert "Your quantize_model replaced 3 Linear layers" in result.run.stdout_tail


@pytest.mark.parametrize(("bug", "relative", "old", "new", "check", "reason"), [
    ("flops_without_factor_2", "perf/profiling.py", "return input_shape[-1] * out_features * 2",
     "return input_shape[-1] * out_features", "flop_count",
     r"flops_rel_error 0\.(49|50)\d* > 0\.010 allowed"),
    ("latency_in_seconds", "perf/profiling.py", "samples.append((time.perf_counter() - start) * 1000)",
     "samples.append(time.perf_counter() - start)", "latency_measured",
     r"latency_ratio 0\.00\d+ outside \[0\.250, 4\.000\]"),
])
def test_a_broken_profiler_fails_its_check(run_extra, course_copy, bug, relative, old, new, check, reason):
    result = run_extra("baseline_profile", course_copy(bug, relative, [(old, new)]))
    assert result.verdict == "failed"
    failed = failed_checks(result)
    assert list(failed) == [check], failed
    assert re.match(reason, failed[check]), failed[check]


@pytest.mark.parametrize(("bug", "relative", "old", "new", "check", "reason"), [
    ("prune_ignores_sparsity", "perf/compression.py", "np.percentile(np.abs(p.data), sparsity * 100)",
     "np.percentile(np.abs(p.data), 90)", "prune_sparsity",
     r"prune_sparsity 0\.900 outside \[0\.480, 0\.520\]"),
    ("low_rank_skips_the_top_direction", "perf/compression.py",
     "return u[:, :rank], s[:rank], vt[:rank, :]",
     "return u[:, 1:rank + 1], s[1:rank + 1], vt[1:rank + 1, :]",
     "lowrank_is_optimal", r"lowrank_error_ratio \S+ > 1\.010 allowed"),
    ("dequantize_forgets_the_scale", "perf/quantization.py",
     "return Tensor((q_tensor.data.astype(np.float32) - zero_point) * scale)",
     "return Tensor(q_tensor.data.astype(np.float32) - zero_point)",  # the argmax survives: accuracy holds
     "int8_outputs_close", r"int8_output_error \S+ > 0\.050 allowed"),
])
def test_broken_compression_fails_its_check(run_extra, course_copy, mnist_cache, bug, relative, old, new,
                                            check, reason):
    result = run_extra("compression", course_copy(bug, relative, [(old, new)]))
    assert result.verdict == "failed"
    failed = failed_checks(result)
    assert check in failed and re.match(reason, failed[check]), failed
    family = check.split("_")[0]  # the bug may also cost accuracy, but only in its own step
    assert all(name.startswith(family) for name in failed), failed
