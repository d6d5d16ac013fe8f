"""Capstone (the course's module 20, ``tinytorch.capstone``): a small MLP, a benchmark report of a
model, and the JSON submission built from a baseline and an optional optimized report."""

from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

from tinytorch.core.activations import ReLU
from tinytorch.core.layers import Linear


class SimpleMLP:
    """Linear(input_size, hidden_size) -> ReLU -> Linear(hidden_size, output_size), weights N(0, 0.01^2)."""

    def __init__(self, input_size=10, hidden_size=20, output_size=3):
        self.fc1 = Linear(input_size, hidden_size)
        self.relu = ReLU()
        self.fc2 = Linear(hidden_size, output_size)
        self.fc1.weight.data = np.random.randn(input_size, hidden_size) * 0.01
        self.fc1.bias.data = np.zeros(hidden_size)
        self.fc2.weight.data = np.random.randn(hidden_size, output_size) * 0.01
        self.fc2.bias.data = np.zeros(output_size)

    def forward(self, x):
        return self.fc2.forward(self.relu.forward(self.fc1.forward(x)))

    def parameters(self):
        return [self.fc1.weight, self.fc1.bias, self.fc2.weight, self.fc2.bias]

    def count_parameters(self):
        return sum(p.data.size for p in self.parameters())


class BenchmarkReport:
    """Size, accuracy and single-sample latency of a model, with system information and a timestamp."""

    def __init__(self, model_name="model"):
        self.model_name = model_name
        self.metrics = {}
        self.system_info = {"platform": platform.platform(), "python_version": sys.version.split()[0],
                            "numpy_version": np.__version__}
        self.timestamp = time.strftime("%Y-%m-%d %H:%M:%S")

    def benchmark_model(self, model, X_test, y_test, num_runs=100):  # noqa: N803 (course names)
        """Accuracy of argmax predictions on (X_test, y_test) and latency of ``model.forward(X_test[:1])``."""
        param_count = model.count_parameters()
        predictions = np.argmax(model.forward(X_test).data, axis=1)
        accuracy = np.mean(predictions == y_test)
        latencies = []
        for _ in range(num_runs):
            start = time.time()
            model.forward(X_test[:1])
            latencies.append((time.time() - start) * 1000)
        mean_latency = np.mean(latencies)
        self.metrics = {
            "parameter_count": int(param_count),
            "model_size_mb": float(param_count * 4 / (1024 * 1024)),
            "accuracy": float(accuracy),
            "latency_ms_mean": float(mean_latency),
            "latency_ms_std": float(np.std(latencies)),
            "throughput_samples_per_sec": float(1000 / mean_latency),
        }
        return self.metrics


def generate_submission(baseline_report, optimized_report=None, student_name=None, techniques_applied=None):
    """The submission dict: version, type, timestamp, system info, baseline (and optimized + improvements)."""
    submission = {
        "tinytorch_version": "0.1.0",
        "submission_type": "capstone_benchmark",
        "timestamp": baseline_report.timestamp,
        "system_info": baseline_report.system_info,
        "baseline": {"model_name": baseline_report.model_name, "metrics": baseline_report.metrics},
    }
    if student_name:
        submission["student_name"] = student_name
    if optimized_report:
        base, opt = baseline_report.metrics, optimized_report.metrics
        submission["optimized"] = {"model_name": optimized_report.model_name, "metrics": opt,
                                   "techniques_applied": techniques_applied or []}
        submission["improvements"] = {
            "speedup": float(base["latency_ms_mean"] / opt["latency_ms_mean"]),
            "compression_ratio": float(base["model_size_mb"] / opt["model_size_mb"]),
            "accuracy_delta": float(opt["accuracy"] - base["accuracy"]),
        }
    return submission


def save_submission(submission, filepath="submission.json"):
    """Write ``submission`` as indented JSON; returns ``filepath``."""
    Path(filepath).write_text(json.dumps(submission, indent=2))
    return filepath
