"""Timing with statistics: Benchmark runs a callable, BenchmarkResult summarises the times."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class BenchmarkResult:
    """Per-call wall times (milliseconds) of one benchmark and their summary statistics."""

    name: str
    times_ms: tuple[float, ...] = field(repr=False)

    def __post_init__(self):
        if not self.times_ms:
            raise ValueError(f"BenchmarkResult {self.name!r}: no timings; run with repeats >= 1")

    @property
    def repeats(self) -> int:
        return len(self.times_ms)

    @property
    def median_ms(self) -> float:
        return float(np.median(self.times_ms))

    @property
    def mean_ms(self) -> float:
        return float(np.mean(self.times_ms))

    @property
    def std_ms(self) -> float:
        """Sample standard deviation (ddof=1); 0.0 for a single timing."""
        return float(np.std(self.times_ms, ddof=1)) if len(self.times_ms) > 1 else 0.0

    @property
    def p90_ms(self) -> float:
        """90th percentile with linear interpolation (numpy's default)."""
        return float(np.percentile(self.times_ms, 90))

    @property
    def min_ms(self) -> float:
        return float(np.min(self.times_ms))

    def summary(self) -> str:
        return (
            f"{self.name}: median {self.median_ms:.3f} ms, mean {self.mean_ms:.3f} ± {self.std_ms:.3f} ms, "
            f"p90 {self.p90_ms:.3f} ms over {self.repeats} runs"
        )


class Benchmark:
    """Time `fn()` `repeats` times after `warmup` untimed calls.

    `timer` returns seconds (default `time.perf_counter`); tests inject a fake clock.
    """

    def __init__(
        self,
        name: str,
        fn: Callable[[], object],
        warmup: int = 3,
        repeats: int = 10,
        timer: Callable[[], float] = time.perf_counter,
    ):
        if not callable(fn):
            raise TypeError(f"Benchmark {name!r}: fn must be a no-argument callable, got {type(fn).__name__}")
        if warmup < 0 or repeats < 1:
            raise ValueError(
                f"Benchmark {name!r}: need warmup >= 0 and repeats >= 1, "
                f"got warmup={warmup}, repeats={repeats}"
            )
        self.name, self.fn, self.warmup, self.repeats, self.timer = name, fn, warmup, repeats, timer

    def run(self) -> BenchmarkResult:
        for _ in range(self.warmup):
            self.fn()
        times = []
        for _ in range(self.repeats):
            start = self.timer()
            self.fn()
            times.append((self.timer() - start) * 1000.0)
        return BenchmarkResult(self.name, tuple(times))


@dataclass(frozen=True)
class Comparison:
    """How `candidate` compares with `baseline` on median time."""

    baseline: BenchmarkResult
    candidate: BenchmarkResult

    @property
    def ratio(self) -> float:
        """candidate median / baseline median: 2.0 means the candidate takes twice as long."""
        return self.candidate.median_ms / self.baseline.median_ms

    @property
    def speedup(self) -> float:
        """baseline median / candidate median: 2.0 means the candidate is twice as fast."""
        return self.baseline.median_ms / self.candidate.median_ms


def compare(baseline: BenchmarkResult, candidate: BenchmarkResult) -> Comparison:
    """Compare two results by median; raises if the baseline median is zero (ratio undefined)."""
    if baseline.median_ms <= 0 or candidate.median_ms <= 0:
        raise ValueError(
            f"compare: medians must be positive, got {baseline.name}={baseline.median_ms} ms and "
            f"{candidate.name}={candidate.median_ms} ms; time a longer workload"
        )
    return Comparison(baseline, candidate)
