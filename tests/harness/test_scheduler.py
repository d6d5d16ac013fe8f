"""Parallel scheduling: jobs overlap, longest first, one job's failure stays its own."""

from __future__ import annotations

import threading
import time

import pytest

from harness.scheduler import default_jobs, run_parallel
from tests.harness.conftest import REPORT

TIMED = REPORT + """\
import time
report("start", time.time())
time.sleep(0.4)
report("end", time.time())
report("score", 1.0)
"""


def test_two_jobs_overlap_in_time_with_jobs_2(project):
    project.add("first", TIMED)
    project.add("second", TIMED)
    report = project.grade(jobs=2)
    first, second = (e.metrics for e in report.submissions[0].extras)
    assert all(e.verdict == "passed" for e in report.submissions[0].extras)
    assert max(first["start"], second["start"]) < min(first["end"], second["end"])


def test_with_jobs_1_they_do_not_overlap(project):
    project.add("first", TIMED)
    project.add("second", TIMED)
    first, second = (e.metrics for e in project.grade(jobs=1).submissions[0].extras)
    assert max(first["start"], second["start"]) >= min(first["end"], second["end"])


def test_a_dying_job_leaves_its_neighbour_alone(project):
    project.add("dies", "import os\nos.abort()\n")
    project.add("lives", TIMED)
    extras = {e.id: e for e in project.grade(jobs=2).submissions[0].extras}
    assert extras["dies"].verdict == "crashed" and extras["lives"].verdict == "passed"


def test_longest_expected_starts_first_and_results_keep_input_order():
    started = []
    expected = {"short": 1, "long": 100, "middle": 10}

    def work(name):
        started.append(name)
        return name.upper()

    results = run_parallel(list(expected), work, jobs=1, expected_seconds=expected.get,
                           on_error=lambda item, exc: "error")
    assert started == ["long", "middle", "short"]
    assert results == ["SHORT", "LONG", "MIDDLE"]


def test_a_failing_job_becomes_its_own_result_and_others_finish():
    streamed = []

    def work(n):
        if n == 2:
            raise RuntimeError("backend exploded")
        time.sleep(0.01)
        return n * 10

    results = run_parallel([1, 2, 3], work, jobs=2, expected_seconds=lambda n: 1,
                           on_error=lambda n, exc: f"error: {exc}",
                           on_result=lambda n, r: streamed.append((n, r, threading.current_thread().name)))
    assert results == [10, "error: backend exploded", 30]
    assert sorted(r for _, r, _ in streamed if isinstance(r, int)) == [10, 30]
    assert all(name == threading.main_thread().name for _, _, name in streamed)


def test_engine_turns_a_raising_runner_into_not_gradable(project):
    from harness.criteria import load_all
    from harness.engine import Submission
    from harness.pipeline import run_checks

    class BrokenRunner:
        name = "broken"

        def available(self):
            return True, ""

        def describe(self):
            return {"backend": "broken"}

        def run(self, job):
            raise ConnectionError("engine went away")

    project.add("any", REPORT + "report('score', 1.0)\n")
    report = run_checks(list(load_all(project.criteria).values()), [Submission("s", project.submission)],
                        runner=BrokenRunner(), extras_dir=project.extras)
    extra = report.submissions[0].extras[0]
    assert extra.verdict == "not_gradable"
    assert extra.reason == ("infrastructure error, not the submission's fault: "
                            "broken backend failed: engine went away")


@pytest.mark.parametrize(("cpus", "memory", "cores", "machine", "jobs"), [
    ([1, 1], [1024], 8, 64_000, 8),
    ([2, 1], [1024], 8, 64_000, 4),
    ([1], [4096], 8, 8192, 2),
    ([4], [1024], 2, 64_000, 1),
])
def test_default_jobs_from_cores_cpu_and_memory_budgets(cpus, memory, cores, machine, jobs):
    assert default_jobs(cpus, memory, cores=cores, memory_mib=machine) == jobs


def test_jobs_must_be_positive():
    with pytest.raises(ValueError, match="jobs must be at least 1, got 0"):
        run_parallel([1], str, jobs=0, expected_seconds=lambda n: 1, on_error=lambda n, e: None)
