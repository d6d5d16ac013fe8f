"""tinytorch.bench (module 19) and tinytorch.capstone (module 20): the course's API and numbers."""

import json
import statistics
import time

import numpy as np
import pytest

from tinytorch.bench import (
    DEFAULT_MEASUREMENT_RUNS,
    DEFAULT_WARMUP_RUNS,
    Benchmark,
    BenchmarkResult,
    BenchmarkSuite,
    OlympicEvent,
    TinyMLPerf,
    precise_timer,
)
from tinytorch.capstone import BenchmarkReport, SimpleMLP, generate_submission, save_submission
from tinytorch.core.layers import Linear
from tinytorch.core.tensor import Tensor


def test_benchmark_result_statistics():
    values = [1.0, 2.0, 3.0, 4.0, 5.0]
    result = BenchmarkResult("m", values, metadata={"k": 1})
    stats = (result.mean, result.median, result.min_val, result.max_val, result.count)
    assert stats == (3.0, 3.0, 1.0, 5.0, 5)
    assert result.std == pytest.approx(statistics.stdev(values))
    margin = 1.96 * result.std / np.sqrt(5)
    assert (result.ci_lower, result.ci_upper) == pytest.approx((3 - margin, 3 + margin))
    assert result.to_dict()["max"] == 5.0 and str(result) == f"m: 3.0000 ± {result.std:.4f} (n=5)"
    single = BenchmarkResult("one", [2.0])
    assert single.std == 0.0 and single.ci_lower == single.ci_upper == 2.0
    with pytest.raises(ValueError, match="at least one measurement"):
        BenchmarkResult("none", [])
    assert OlympicEvent("latency_sprint") is OlympicEvent.LATENCY_SPRINT
    assert (DEFAULT_WARMUP_RUNS, DEFAULT_MEASUREMENT_RUNS) == (5, 10)


def test_precise_timer_measures_elapsed_seconds():
    with precise_timer() as timer:
        time.sleep(0.01)
    assert 0.009 < timer.elapsed < 1.0


class Model:
    def __init__(self, name):
        self.name = name
        self.layer = Linear(28, 4)  # accepts the benchmarks' default (1, 28, 28) inputs

    def forward(self, x):
        return self.layer.forward(x)

    def parameters(self):
        return self.layer.parameters()


def test_benchmark_latency_accuracy_memory_and_comparison():
    models = [Model("fast_model"), Model("slow_model")]
    bench = Benchmark(models, [{"d": 1}, {"d": 2}], warmup_runs=1, measurement_runs=3)
    latency = bench.run_latency_benchmark(input_shape=(1, 28))
    assert set(latency) == {"fast_model", "slow_model"} and latency["fast_model"].count == 3
    assert latency["fast_model"].metric_name == "fast_model_latency_ms" and latency["fast_model"].mean > 0
    np.random.seed(0)
    accuracy = bench.run_accuracy_benchmark()
    np.random.seed(0)
    noise = [np.random.normal(0, 0.02) for _ in range(4)]
    assert accuracy["slow_model"].values == pytest.approx([0.90 + noise[2], 0.90 + noise[3]])
    memory = bench.run_memory_benchmark(input_shape=(1, 28))
    assert memory["fast_model"].values[0] >= (28 * 4 + 4) * 4 / 2**20
    rows = bench.compare_models("latency")
    assert [row["model"] for row in rows] == ["fast_model", "slow_model"] and rows[0]["count"] == 3
    with pytest.raises(ValueError, match="Unknown metric"):
        bench.compare_models("energy")


def test_benchmark_suite_report(tmp_path):
    suite = BenchmarkSuite([Model("efficient_model"), Model("accurate_model")], [{}], output_dir=tmp_path)
    suite.benchmark.measurement_runs = 2
    results = suite.run_full_benchmark()
    assert set(results) == {"latency", "accuracy", "memory", "energy"}
    energy = results["energy"]["efficient_model"]
    lat, mem = results["latency"]["efficient_model"].values[0], results["memory"]["efficient_model"].values[0]
    assert energy.values[0] == pytest.approx(0.1 + lat / 1000 * 2 + mem * 0.01)
    report = suite.generate_report()
    assert "Benchmark Report" in report and "System Information" in report and "Recommendations" in report
    assert (tmp_path / "benchmark_report.md").read_text() == report


def test_tiny_mlperf_runs_and_reports(tmp_path):
    class Binary:
        name = "test_model"

        def forward(self, x):
            return np.array([0.2, 0.8])

    perf = TinyMLPerf(random_seed=42)
    assert set(perf.benchmarks) == {"keyword_spotting", "visual_wake_words", "anomaly_detection",
                                    "image_classification"}
    result = perf.run_standard_benchmark(Binary(), "keyword_spotting", num_runs=5)
    np.random.seed(42)
    labels = np.random.randint(0, 2, 5)
    assert result["accuracy"] == pytest.approx(np.mean(labels == 1))  # the model always says class 1
    assert result["num_runs"] == 5 and result["throughput_fps"] > 0
    assert result["compliant"] == (result["accuracy_met"] and result["latency_met"])
    with pytest.raises(ValueError, match="Unknown benchmark"):
        perf.run_standard_benchmark(Binary(), "nope")
    path = str(tmp_path / "report.json")
    summary = perf.generate_compliance_report({"keyword_spotting": result, "broken": {"error": "x"}}, path)
    assert "TinyMLPerf Compliance Report" in summary and "Compliance Rate" in summary
    assert json.loads(open(path).read())["summary"]["total_benchmarks"] == 1
    assert (tmp_path / "report_summary.md").read_text() == summary


def test_capstone_mlp_report_and_submission(tmp_path):
    np.random.seed(0)
    model = SimpleMLP()
    assert model.count_parameters() == 10 * 20 + 20 + 20 * 3 + 3
    assert np.abs(model.fc1.weight.data).max() < 0.05 and not model.fc1.bias.data.any()
    x = Tensor(np.random.randn(30, 10))
    y = np.argmax(model.forward(x).data, axis=1)
    baseline = BenchmarkReport("baseline")
    metrics = baseline.benchmark_model(model, x, y, num_runs=5)
    assert metrics["accuracy"] == 1.0 and metrics["parameter_count"] == model.count_parameters()
    assert metrics["model_size_mb"] == pytest.approx(model.count_parameters() * 4 / 2**20)
    optimized = BenchmarkReport("optimized")
    optimized.benchmark_model(model, x, y, num_runs=5)
    submission = generate_submission(baseline, optimized, student_name="ada", techniques_applied=["none"])
    assert submission["student_name"] == "ada" and submission["optimized"]["techniques_applied"] == ["none"]
    assert submission["improvements"]["compression_ratio"] == 1.0
    assert "optimized" not in generate_submission(baseline)
    path = save_submission(submission, str(tmp_path / "s.json"))
    assert json.loads(open(path).read())["baseline"]["model_name"] == "baseline"
