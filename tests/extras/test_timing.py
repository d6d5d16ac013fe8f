"""extras/_harness/timing.py: alternating runs, warm-up untimed, best-of ratios per clock."""

from __future__ import annotations

import time

import pytest


@pytest.fixture
def timing(sandbox_helpers):
    return sandbox_helpers("timing")


def test_variants_alternate_and_prepare_runs_before_each_timed_run(timing):
    log = []
    variants = {"a": (lambda: log.append("prep a"), lambda: log.append("run a")),
                "b": (None, lambda: log.append("run b"))}
    times = timing.interleaved_times(variants, repeats=3)
    # one untimed warm-up round, then three timed rounds, always a then b
    assert log == ["prep a", "run a", "run b"] * 4
    assert {name: [len(t["wall"]), len(t["cpu"])] for name, t in times.items()} == {"a": [3, 3], "b": [3, 3]}


def test_without_warmup_every_run_is_timed(timing):
    calls = []
    times = timing.interleaved_times({"a": (None, lambda: calls.append(1))}, repeats=2, warmup=False)
    assert len(calls) == 2 and len(times["a"]["wall"]) == 2


def test_best_ratios_take_the_minimum_of_each_side(timing):
    times = {"slow": {"wall": [3.0, 2.0, 9.0], "cpu": [2.5, 4.0, 2.0]},
             "fast": {"wall": [0.5, 1.0, 0.4], "cpu": [0.5, 0.25, 7.0]}}
    ratios = timing.best_ratios(times, "slow", "fast")
    assert ratios == {"cpu": pytest.approx(8.0), "wall": pytest.approx(5.0)}


def test_cpu_time_ignores_time_spent_waiting(timing):
    times = timing.interleaved_times({"sleep": (None, lambda: time.sleep(0.3))}, repeats=1, warmup=False)
    assert times["sleep"]["wall"][0] >= 0.3
    # the process's CPU time: the sleep costs none; other threads of a busy test worker may add a little
    assert times["sleep"]["cpu"][0] < 0.1


def test_repeats_must_be_positive(timing):
    with pytest.raises(ValueError, match="repeats must be >= 1"):
        timing.interleaved_times({"a": (None, lambda: None)}, repeats=0)
