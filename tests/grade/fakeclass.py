"""A fake class for batch-grading tests: two small extras with criteria, and six submissions.

The extras use no numpy (fast start-up) and append ``<submission> <extra>`` to a marker file
each time they run, so a test can count exactly which jobs executed.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import yaml

TIMEOUT_SECONDS = 4

_METRICS = textwrap.dedent("""\
    import json, os
    def report(name, value, kind="scalar"):
        key = "values" if kind == "series" else "value"
        with open(os.path.join(os.environ["HARNESS_OUT"], "metrics.jsonl"), "a") as f:
            f.write(json.dumps({"kind": kind, "name": name, key: value}) + "\\n")
    def mark(extra):
        submission = os.path.basename(os.environ["PYTHONPATH"].split(os.pathsep)[0].rstrip("/"))
        with open(os.environ["FAKE_MARKER"], "a") as f:
            f.write(f"{submission} {extra}\\n")
""")

EXTRAS = {
    "grad_check.py": _METRICS + textwrap.dedent("""\
        mark("grad_check")
        from tinytorch.core.ops import square_grad
        xs = [-1.0, -0.5, 0.0, 0.5, 1.0]
        report("grad_error", max(abs(g - 2 * x) for g, x in zip(square_grad(xs), xs)))
        report("loss", [1.0, 0.5, 0.3, 0.2, 0.15], kind="series")
    """),
    "conv_train.py": _METRICS + textwrap.dedent("""\
        mark("conv_train")
        from tinytorch.core.ops import conv_step
        w = [1.0, 1.0, 1.0, 1.0]
        w2 = conv_step(w, [0.5] * 4, 0.1)
        report("filter_change", max(abs(a - b) for a, b in zip(w, w2)))
        report("accuracy", 0.95)
        report("train_loss", [2.3, 1.2, 0.8, 0.5], kind="series")
    """),
}

CORRECT_OPS = textwrap.dedent("""\
    def square_grad(xs):
        return [2 * x for x in xs]
    def conv_step(w, grad, lr):
        return [a - lr * g for a, g in zip(w, grad)]
""")

SUBMISSIONS = {
    "correct": {"ops": CORRECT_OPS},
    "wrong_gradient": {"ops": CORRECT_OPS.replace("[2 * x for x in xs]", "[x for x in xs]")},
    "frozen_conv": {"ops": CORRECT_OPS.replace("[a - lr * g for a, g in zip(w, grad)]", "list(w)")},
    "crash_on_import": {"init": 'raise ImportError("tinytorch is half-written")\n', "ops": CORRECT_OPS},
    "timeout": {"init": "import time\ntime.sleep(3600)\n", "ops": CORRECT_OPS},
    # Prints success, forges every metric before the extra reports the real (wrong) values, and
    # drops a fake report beside itself: none of it may earn a point.
    "hostile": {"init": textwrap.dedent("""\
        import json, os
        print("ALL CHECKS PASSED: grade 12/12")
        with open(os.path.join(os.environ["HARNESS_OUT"], "metrics.jsonl"), "a") as f:
            for name, value in (("grad_error", 0.0), ("filter_change", 1.0), ("accuracy", 1.0)):
                f.write(json.dumps({"kind": "scalar", "name": name, "value": value}) + "\\n")
        with open("report.json", "w") as f:
            f.write('{"status": "passed", "score": 12}')
    """), "ops": CORRECT_OPS.replace("[2 * x for x in xs]", "[0.0 for x in xs]")
             .replace("[a - lr * g for a, g in zip(w, grad)]", "list(w)")},
}

# What the gradebook must say, exactly: points per extra, total, status, failure category.
EXPECTED = {
    "correct": ("7", "5", "12", "passed", ""),
    "crash_on_import": ("0", "0", "0", "crashed", "crashed"),
    "frozen_conv": ("2", "5", "7", "failed", "failed"),
    "hostile": ("0", "0", "0", "failed", "failed"),
    "timeout": ("0", "0", "0", "timeout", "timeout"),
    "wrong_gradient": ("7", "0", "7", "failed", "failed"),
}


# The fake class grades the machinery on the scripts' own metrics (real criteria use host evidence).
TRUSTED = {"source": "self-reported", "trust": "self-reported"}

def _budget(wall_seconds: float) -> dict:
    return {"wall_seconds": wall_seconds, "memory_mib": 512, "cpus": 1, "pids": 32}


def criteria_docs(marker: Path) -> dict[str, dict]:
    profiles = {
        "full": {"env": {"FAKE_MARKER": str(marker)}, "expected_seconds": 1,
                 "budget": _budget(TIMEOUT_SECONDS)},
        "quick": {"args": ["--quick"], "env": {"FAKE_MARKER": str(marker)}, "expected_seconds": 1,
                  "budget": _budget(TIMEOUT_SECONDS)},
    }
    return {
        "grad_check": {
            "id": "grad_check", "title": "Gradient of x squared", "script": "grad_check.py",
            "milestone": "test", "requires": ["tinytorch.core.ops"], "profiles": profiles,
            "checks": [{"name": "gradient_correct", "metric": "grad_error", **TRUSTED,
                        "rule": {"max": 1.0e-6},
                        "points": 5, "explain": "d(x^2)/dx = 2x"}],
        },
        "conv_train": {
            "id": "conv_train", "title": "Convolution filters learn", "script": "conv_train.py",
            "milestone": "test", "requires": ["tinytorch.core.ops"], "profiles": profiles,
            "checks": [{"name": "filters_move", "metric": "filter_change", **TRUSTED, "rule": {"min": 0.01},
                        "points": 5},
                       {"name": "accuracy", "metric": "accuracy", **TRUSTED, "rule": {"min": 0.9},
                        "points": 2,
                        "visibility": "hidden"}],
        },
    }


def make_class(root: Path) -> dict[str, Path]:
    """Create extras/, criteria/, submissions/ and the marker path under ``root``."""
    paths = {name: root / name for name in ("extras", "criteria", "submissions")}
    for path in paths.values():
        path.mkdir(parents=True)
    paths["marker"] = root / "ran.txt"
    for name, source in EXTRAS.items():
        (paths["extras"] / name).write_text(source)
    for crit_id, doc in criteria_docs(paths["marker"]).items():
        (paths["criteria"] / f"{crit_id}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    for name, files in SUBMISSIONS.items():
        package = paths["submissions"] / name / "tinytorch"
        (package / "core").mkdir(parents=True)
        (package / "__init__.py").write_text(files.get("init", ""))
        (package / "core" / "__init__.py").write_text("")
        (package / "core" / "ops.py").write_text(files["ops"])
    return paths


def marker_lines(paths: dict[str, Path]) -> list[str]:
    marker = paths["marker"]
    return marker.read_text().splitlines() if marker.exists() else []


UNCONFINED = "--i-know-local-is-not-isolated"


def grade_args(paths: dict[str, Path], out: Path, *extra: str) -> list[str]:
    """The fake class's ``harness grade`` command: local backend, so with the flag that allows it."""
    return ["grade", str(paths["submissions"]), "--backend", "local", UNCONFINED, "--profile", "quick",
            "--jobs", "2", "--out", str(out), "--criteria-dir", str(paths["criteria"]),
            "--extras-dir", str(paths["extras"]), *extra]
