"""A hand-written canonical report (contracts §5) for the exporter tests.

Three students: ``alice`` passes everything, ``bob`` fails one visible and one hidden check,
``mallory`` crashes with HTML in her stderr. Numbers are chosen so every total is known.
"""

from __future__ import annotations

import copy

from harness.report.model import Report

RUN_OK = {"exit_code": 0, "signal": None, "timed_out": False, "oom_killed": False, "wall_seconds": 12.5,
          "cpu_seconds": 11.9, "peak_rss_mib": 310.0, "stdout_tail": "epoch 3 loss 0.6", "stderr_tail": ""}
HOSTILE_STDERR = 'Traceback (most recent call last):\n<script>alert("owned")</script>\nValueError: shapes'


def _check(name, metric, value, rule, verdict, score, max_score, visibility="visible", reason=None):
    return {"name": name, "metric": metric, "value": value, "rule": rule, "verdict": verdict,
            "reason": reason or f"{metric} {value} {rule}", "score": score, "max_score": max_score,
            "visibility": visibility}


def _mnist(verdict, accuracy, score, hidden_ok=True, run=RUN_OK, checks=None):
    hidden = _check("robustness", "noisy_accuracy", 0.9 if hidden_ok else 0.4, ">= 0.800",
                    "passed" if hidden_ok else "failed", 2.0 if hidden_ok else 0.0, 2.0, "hidden",
                    reason=None if hidden_ok else "noisy_accuracy 0.400 < 0.800 required")
    visible = _check("test_accuracy", "test_accuracy", accuracy, ">= 0.950",
                     "passed" if accuracy >= 0.95 else "failed", 8.0 if accuracy >= 0.95 else 0.0, 8.0,
                     reason=None if accuracy >= 0.95 else f"test_accuracy {accuracy} < 0.950 required")
    return {"id": "mnist_mlp", "title": "MLP on the full MNIST", "script": "02_rumelhart_mnist.py",
            "profile": "quick", "verdict": verdict, "reason": "see checks", "score": score, "max_score": 10.0,
            "run": run, "metrics": {"test_accuracy": accuracy},
            "series": {"train_loss": [2.3, 1.1, 0.6, 0.4], "val_accuracy": [0.5, 0.8, None, 0.93]},
            "checks": checks if checks is not None else [visible, hidden]}


def _xor(verdict, score, run=RUN_OK):
    passed = verdict == "passed"
    return {"id": "xor_crisis", "title": "The XOR crisis", "script": "01_xor_crisis.py", "profile": "quick",
            "verdict": verdict,
            "reason": "the check passed" if passed else "mlp_accuracy 0.750 < 1.000",
            "score": score, "max_score": 5.0, "run": run,
            "metrics": {"mlp_accuracy": 1.0 if passed else 0.75},
            "series": {}, "checks": [_check("mlp_solves_xor", "mlp_accuracy", 1.0 if passed else 0.75,
                                            ">= 1.000", verdict, score, 5.0)]}


def _submission(name, extras, status):
    return {"name": name, "path": f"/class/{name}", "hash": f"sha256:{name:0<64}"[:71],
            "score": sum(e["score"] for e in extras), "max_score": sum(e["max_score"] for e in extras),
            "status": status, "extras": extras}


def report_dict() -> dict:
    crashed_run = {**RUN_OK, "exit_code": 1, "wall_seconds": 0.8, "stderr_tail": HOSTILE_STDERR}
    crashed_checks = [
        _check("test_accuracy", "test_accuracy", None, ">= 0.950", "crashed", 0.0, 8.0,
               reason="not evaluated: exit code 1: ValueError: shapes"),
        _check("robustness", "noisy_accuracy", None, ">= 0.800", "crashed", 0.0, 2.0, "hidden",
               reason="not evaluated: exit code 1: ValueError: shapes"),
    ]
    mallory_mnist = _mnist("crashed", 0.0, 0.0, run=crashed_run, checks=crashed_checks)
    mallory_mnist.update(reason="exit code 1: ValueError: shapes", metrics={}, series={})
    return {
        "schema_version": 1, "harness_version": "0.1.0", "created_at": "2026-11-27T01:02:03Z",
        "provenance": {"backend": "docker", "image_id": "sha256:abc", "lock_hash": "sha256:def",
                       "criteria_hash": "sha256:123",
                       "criteria": {"mnist_mlp": "sha256:1", "xor_crisis": "sha256:2"},
                       "seed": 1337, "profile": "quick", "hidden_checks_included": True,
                       "machine": {"cpus": 2, "memory_gib": 24, "platform": "Linux", "python": "3.11.7"}},
        "submissions": [
            _submission("alice", [_mnist("passed", 0.97, 10.0), _xor("passed", 5.0)], "passed"),
            _submission("bob", [_mnist("failed", 0.91, 0.0, hidden_ok=False), _xor("passed", 5.0)], "failed"),
            _submission("mallory", [mallory_mnist, _xor("failed", 0.0)], "crashed"),
        ],
    }


def sample_report() -> Report:
    return Report.model_validate(copy.deepcopy(report_dict()))
