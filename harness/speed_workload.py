"""The fixed workload ``harness calibrate`` times (run as a script in a fresh, single-threaded process).

numpy and the standard library only, and nothing of the harness: this file is run as
``python -I speed_workload.py UNITS REPEATS`` and prints one JSON line: each trial's CPU and wall
seconds and what numpy and its BLAS are. A trial is UNITS repetitions of one unit; a unit mixes what the
extras spend their time on: float32 GEMMs (dense layers, attention), a course-style convolution
written as Python loops over output positions (the course's ``Conv2d``), and a loop of small
elementwise operations (activations, optimizer updates). Time grows linearly with UNITS, which
is how a test simulates a machine twice as slow (``HARNESS_CALIBRATE_SLOWDOWN=2``: twice the units).

Changing anything here changes the time it takes: bump ``WORKLOAD_VERSION`` in
``harness/calibrate.py`` and measure the reference machines' times again.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np


def unit(rng: np.random.Generator) -> float:
    """One unit of work; returns a number that depends on all of it (so nothing is skipped)."""
    a = rng.standard_normal((384, 384), dtype=np.float32)
    b = rng.standard_normal((384, 384), dtype=np.float32) * np.float32(0.05)
    for _ in range(12):  # GEMMs: ~12 x 113 MFLOP
        a = np.tanh(a @ b)
    x = rng.standard_normal((4, 32, 32), dtype=np.float32)
    w = rng.standard_normal((8, 4, 3, 3), dtype=np.float32)
    out = np.zeros((8, 30, 30), dtype=np.float32)
    for _ in range(3):  # a loop-based 3x3 convolution, as the course writes it
        for i in range(30):
            for j in range(30):
                out[:, i, j] = (w * x[:, i:i + 3, j:j + 3]).sum(axis=(1, 2, 3))
        x[:, 1:31, 1:31] = np.tanh(out[:4])
    h = rng.standard_normal(4096, dtype=np.float32)
    for _ in range(600):  # small elementwise steps
        h = np.maximum(h * np.float32(0.9) + np.float32(0.1), np.float32(0.0)) - h.mean()
    return float(a[0, 0] + out[0, 0, 0] + h[0])


def trial(units: int) -> tuple[float, float]:
    """(CPU seconds, wall seconds) for ``units`` units of work (fixed seed: every trial does the same
    arithmetic). The process runs one thread, so its CPU time is the work's time on one core, and
    hardly moves when other processes share the cores (its wall time does)."""
    rng = np.random.default_rng(20250101)
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(units):
        unit(rng)
    return time.process_time() - cpu, time.perf_counter() - wall


def blas_name() -> str:
    try:
        blas = np.__config__.CONFIG["Build Dependencies"]["blas"]
        return f"{blas.get('name', '?')} {blas.get('version', '?')}"
    except Exception:  # older numpy: no CONFIG
        return "unknown"


def main(argv: list[str]) -> int:
    units, repeats = int(argv[0]), int(argv[1])
    unit(np.random.default_rng(0))  # warm-up: BLAS buffers, first-call costs
    trials = [trial(units) for _ in range(repeats)]
    print(json.dumps({"trials": [cpu for cpu, _ in trials], "wall_trials": [wall for _, wall in trials],
                      "units": units, "numpy": np.__version__, "blas": blas_name()}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
