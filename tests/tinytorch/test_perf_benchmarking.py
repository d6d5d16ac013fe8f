"""Benchmark statistics on a fake clock, and the compare helper."""

import numpy as np
import pytest

from tinytorch.perf.benchmarking import Benchmark, BenchmarkResult, compare


class FakeClock:
    """Each call to fn advances the clock by the next scripted duration (seconds)."""

    def __init__(self, durations):
        self.now, self.durations, self.calls = 0.0, list(durations), 0

    def timer(self):
        return self.now

    def fn(self):
        self.now += self.durations[self.calls]
        self.calls += 1


def test_run_times_only_after_warmup_and_summarises():
    clock = FakeClock([9.0, 9.0] + [0.001, 0.002, 0.003, 0.004, 0.010])
    result = Benchmark("fake", clock.fn, warmup=2, repeats=5, timer=clock.timer).run()
    assert clock.calls == 7
    np.testing.assert_allclose(result.times_ms, [1, 2, 3, 4, 10], atol=1e-9)
    assert result.median_ms == pytest.approx(3.0)
    assert result.mean_ms == pytest.approx(4.0)
    assert result.std_ms == pytest.approx(np.std([1, 2, 3, 4, 10], ddof=1))
    assert result.p90_ms == pytest.approx(7.6)  # between 4 and 10 by linear interpolation
    assert result.min_ms == pytest.approx(1.0)
    assert "median 3.000 ms" in result.summary()


def test_real_clock_measures_sleep_free_work():
    result = Benchmark("sum", lambda: sum(range(1000)), warmup=0, repeats=3).run()
    assert result.repeats == 3 and all(t > 0 for t in result.times_ms)


def test_compare_ratio_and_speedup():
    fast = BenchmarkResult("fast", (1.0, 1.0, 1.0))
    slow = BenchmarkResult("slow", (3.0, 3.0, 4.0))
    comparison = compare(baseline=fast, candidate=slow)
    assert comparison.ratio == pytest.approx(3.0)
    assert comparison.speedup == pytest.approx(1 / 3)


@pytest.mark.parametrize("kwargs", [{"warmup": -1}, {"repeats": 0}])
def test_bad_arguments_are_named(kwargs):
    with pytest.raises(ValueError, match="repeats >= 1"):
        Benchmark("x", lambda: None, **kwargs)


def test_non_callable_and_zero_medians_rejected():
    with pytest.raises(TypeError, match="callable"):
        Benchmark("x", 3)
    with pytest.raises(ValueError, match="positive"):
        compare(BenchmarkResult("a", (0.0,)), BenchmarkResult("b", (1.0,)))
