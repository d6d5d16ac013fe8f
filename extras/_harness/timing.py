"""Load-robust timing for speedup ratios (stdlib only).

A speedup measured on a shared machine is the ratio of two times, and other processes can stall
either of them at any moment. Three measures make the ratio steady:

- the variants run *interleaved* (A, B, A, B, ...), so a slow phase of the machine hits both
  instead of only the one that happened to run then;
- each variant's time is the *minimum* over its repeats: load only ever adds time, so the
  fastest run is the closest to the true cost (the usual estimator, as in ``timeit``);
- besides wall time, the process's CPU time (``time.process_time``: every thread of this
  process, user + system) is recorded. It does not count the time other processes hold the
  CPU, so it is the steadier of the two; with one BLAS thread (as under the harness) it equals
  the wall time of an idle machine.
"""

from __future__ import annotations

import time
from collections.abc import Callable

Variant = tuple[Callable[[], object] | None, Callable[[], object]]


def interleaved_times(variants: dict[str, Variant], repeats: int,
                      warmup: bool = True) -> dict[str, dict[str, list[float]]]:
    """Wall and CPU seconds of each variant over ``repeats`` interleaved rounds.

    ``variants`` maps a name to ``(prepare, run)``: every round calls, for each variant in turn,
    ``prepare()`` (untimed, may be None) and then times ``run()``. With ``warmup`` each variant
    first runs once untimed. Returns ``{name: {"wall": [...], "cpu": [...]}}``.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    times = {name: {"wall": [], "cpu": []} for name in variants}
    for timed in [False] * bool(warmup) + [True] * repeats:
        for name, (prepare, run) in variants.items():
            if prepare is not None:
                prepare()
            wall, cpu = time.perf_counter(), time.process_time()
            run()
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            if timed:
                times[name]["wall"].append(wall)
                times[name]["cpu"].append(cpu)
    return times


def best_ratios(times: dict[str, dict[str, list[float]]], slow: str, fast: str) -> dict[str, float]:
    """``{"cpu": ..., "wall": ...}``: min(slow) / min(fast) for each clock."""
    ratios = {}
    for clock, name in (("cpu", "process_time"), ("wall", "perf_counter")):
        floor = time.get_clock_info(name).resolution
        ratios[clock] = min(times[slow][clock]) / max(min(times[fast][clock]), floor)
    return ratios
