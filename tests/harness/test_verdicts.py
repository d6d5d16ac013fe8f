"""Every verdict category end to end (fake extras), with the exact reason text, on both backends.

Each test runs once with the local backend and once with docker (``runner`` in conftest.py: in CI a
missing engine fails, elsewhere the docker half is skipped with the reason). Where the backends
legitimately differ, the category is the same and each backend's exact reason is asserted.
"""

from __future__ import annotations

import resource

import numpy as np
import pytest

from harness.judging import scorers as scoring
from tests.harness.conftest import REPORT, FakeProject, budget

TRUSTED = {"source": "self-reported", "trust": "self-reported"}  # a file the script wrote


@pytest.fixture
def project(tmp_path, runner) -> FakeProject:
    """The fake project graded by the backend under test."""
    return FakeProject(tmp_path, runner)


def test_pass_reports_metric_value_and_full_points(project):
    project.add("good", REPORT + "report('score', 0.95)\n")
    extra = project.extra("good")
    assert (extra.verdict, extra.reason) == ("passed", "the check passed")
    assert (extra.score, extra.max_score) == (10, 10)
    check = extra.checks[0]
    assert (check.verdict, check.value, check.rule) == ("passed", 0.95, ">= 0.900")
    assert check.reason == "score 0.950 >= 0.900"
    assert extra.metrics == {"score": 0.95}


def test_threshold_miss_fails_with_value_and_bound(project):
    project.add("weak", REPORT + "report('accuracy', 0.912)\n",
                [{"name": "acc", "metric": "accuracy", "rule": {"min": 0.95}, "points": 10}])
    extra = project.extra("weak")
    assert (extra.verdict, extra.score) == ("failed", 0)
    assert extra.reason == "accuracy 0.912 < 0.950 required"
    assert extra.checks[0].reason == "accuracy 0.912 < 0.950 required"


def test_partial_credit_is_linear_between_floor_and_bound(project):
    checks = [{"name": "acc", "metric": "accuracy", "rule": {"min": 0.95}, "partial": {"floor": 0.90},
               "points": 10},
              {"name": "loss", "metric": "loss", "rule": {"max": 1.0}, "partial": {"floor": 2.0},
               "points": 4}]
    project.add("ramp", REPORT + "report('accuracy', 0.93)\nreport('loss', 1.75)\n", checks)
    extra = project.extra("ramp")
    acc, loss = extra.checks
    assert acc.score == pytest.approx(6.0) and acc.verdict == "failed"
    assert acc.reason == "accuracy 0.930 < 0.950 required (partial credit 6.000/10.000 points)"
    assert loss.score == pytest.approx(1.0)
    assert loss.reason == "loss 1.750 > 1.000 allowed (partial credit 1.000/4.000 points)"
    assert (extra.verdict, extra.score, extra.max_score) == ("failed", pytest.approx(7.0), 14)


def test_below_partial_floor_earns_nothing(project):
    checks = [{"name": "acc", "metric": "accuracy", "rule": {"min": 0.95}, "partial": {"floor": 0.90}}]
    project.add("floor", REPORT + "report('accuracy', 0.5)\n", checks)
    check = project.extra("floor").checks[0]
    assert (check.verdict, check.score, check.reason) == ("failed", 0, "accuracy 0.500 < 0.950 required")


def test_profile_rule_overrides_the_default_rule(project):
    checks = [{"name": "acc", "metric": "accuracy", "rule": {"min": 0.95},
               "profile_rules": {"quick": {"min": 0.8}}}]
    project.add("prof", REPORT + "report('accuracy', 0.85)\n", checks)
    assert project.extra("prof", profile="quick").verdict == "passed"
    assert project.extra("prof", profile="full").verdict == "failed"


def test_infinite_loop_is_killed_at_the_wall_budget(project):
    project.add("loop", "while True:\n    pass\n", full=budget(wall_seconds=1))
    extra = project.extra("loop")
    assert (extra.verdict, extra.reason) == ("timeout", "killed after 1 s budget")
    assert extra.run.timed_out and extra.run.signal == 9
    assert extra.checks[0].verdict == "timeout"
    assert extra.checks[0].reason == "not evaluated: killed after 1 s budget"


def test_allocation_loop_is_out_of_memory(project, runner):
    script = "chunks = []\nwhile True:\n    chunks.append(bytearray(16 * 1024 * 1024))\n"
    project.add("hog", script, full=budget(memory_mib=256))
    extra = project.extra("hog")
    assert (extra.verdict, extra.reason) == ("out_of_memory", "exceeded 256 MiB")
    assert extra.run.oom_killed and not extra.run.timed_out
    assert extra.run.peak_rss_mib < 300
    if runner.name == "local":  # RLIMIT_AS: the allocation fails inside Python
        assert (extra.run.exit_code, extra.run.signal) == (1, None)
        assert extra.run.stderr_tail.rstrip().endswith("MemoryError")
    else:  # the memory cgroup: the kernel's OOM killer SIGKILLs the script, which prints nothing
        assert (extra.run.exit_code, extra.run.signal) == (None, 9)
        assert "MemoryError" not in extra.run.stderr_tail


def test_exception_is_crashed_with_last_traceback_line(project):
    project.add("boom", "def f():\n    return 1 / 0\nf()\n")
    extra = project.extra("boom")
    assert (extra.verdict, extra.reason) == ("crashed", "exit code 1: ZeroDivisionError: division by zero")
    assert "return 1 / 0" in extra.run.stderr_tail


def test_abort_is_crashed_by_signal(project):
    project.add("abort", "import os\nos.abort()\n")
    extra = project.extra("abort")
    assert (extra.verdict, extra.reason) == ("crashed", "killed by SIGABRT: no error output")
    assert extra.run.signal == 6


def test_exit_code_above_128_is_read_as_a_signal_by_docker_only(project, runner):
    # docker reports death by signal N as exit code 128+N, so sys.exit(137) looks like SIGKILL
    # there (docs/docker.md); no OOM kill happened, so it stays crashed, not out_of_memory.
    project.add("exit137", "import sys\nsys.exit(137)\n")
    extra = project.extra("exit137")
    expected = {"local": ((137, None), "exit code 137: no error output"),
                "docker": ((None, 9), "killed by SIGKILL: no error output")}[runner.name]
    assert (extra.run.exit_code, extra.run.signal) == expected[0]
    assert (extra.verdict, extra.reason) == ("crashed", expected[1])
    assert not extra.run.oom_killed


def test_clean_exit_without_metrics_fails_each_check(project):
    project.add("todo", "print('TODO: implement me')\n")
    extra = project.extra("todo")
    assert (extra.verdict, extra.reason) == ("failed", "metric score was not reported")


@pytest.mark.parametrize(("lines", "reason"), [
    ('{"kind": "scalar", "name": "score", "value": NaN}\n', "metric score is nan (not a finite number): "
     "the script recorded no cause with it (no `note`); its output shows what it computed"),
    ('{"kind": "scalar", "name": "score", "value": [1]}\n',
     "metrics.jsonl line 1: metric score has a value of type list, expected a number, bool or short string"),
    ('{"kind": "scalar", "name": "score", "value": 0.95}\n'
     '{"kind": "scalar", "name": "score", "value": 1.0}\n',
     "metric score reported 2 times; report each metric once"),
    ('{"kind": "scalar", "name": "score", "val', "metric score was not reported "
     "(metrics.jsonl line 1 is truncated (the script stopped while writing it))"),
    ('{"kind": "scalar", "name": "score", "value": "0.95"}\n', "score is '0.95', a number is required"),
])
def test_garbage_metrics_fail_with_a_clear_reason(project, lines, reason):
    script = f"import os\nopen(os.environ['HARNESS_OUT'] + '/metrics.jsonl', 'w').write({lines!r})\n"
    project.add("garbage", script)
    extra = project.extra("garbage")
    assert (extra.verdict, extra.reason) == ("failed", reason)


def test_huge_metrics_file_is_refused_not_read(project):
    script = ("import os\nwith open(os.environ['HARNESS_OUT'] + '/metrics.jsonl', 'w') as f:\n"
              "    f.write('x' * (3 * 1024 * 1024))\n")
    project.add("huge", script)
    extra = project.extra("huge")
    assert extra.verdict == "failed"
    assert extra.reason == ("metric score was not reported "
                            "(metrics.jsonl is 3.0 MiB, over the 1.0 MiB cap; not read)")


def test_50_mb_of_stdout_keeps_head_and_tail_only(project):
    script = (REPORT + "import sys\nprint('FIRST LINE')\nline = b'y' * 1023 + b'\\n'\n"
              "for _ in range(50 * 1024):\n    sys.stdout.buffer.write(line)\n"
              "print('LAST LINE')\nreport('score', 1.0)\n")
    project.add("chatty", script)
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    extra = project.extra("chatty")
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before) / 1024
    assert grown_mib < 25, f"the harness itself grew by {grown_mib:.0f} MiB while capturing 50 MB"
    assert extra.verdict == "passed"
    assert extra.run.stdout_tail.rstrip().endswith("LAST LINE")
    assert len(extra.run.stdout_tail) <= 4000


def test_runner_output_capture_keeps_head_marker_and_tail(project, runner, run_results):
    from harness.runners.base import Budget, Job

    (project.extras / "spam.py").write_text(
        "import sys\nprint('FIRST LINE')\nline = b'z' * 1023 + b'\\n'\n"
        "for _ in range(50 * 1024):\n    sys.stdout.buffer.write(line)\nprint('LAST LINE')\n")
    job = Job("s/spam", "spam", "spam.py", project.extras, project.submission, budget=Budget(wall_seconds=60))
    run = run_results(runner.run(job))
    assert run.exit_code == 0
    assert run.stdout.startswith("FIRST LINE\n")
    assert run.stdout.rstrip().endswith("LAST LINE")
    assert "bytes of output omitted by the harness" in run.stdout
    assert len(run.stdout) < 200_000  # 50 MB went through, ~100 KB kept


def test_missing_required_module_is_not_gradable_without_running(project):
    project.add("needs_conv", "raise SystemExit('must not run')\n", requires=["tinytorch.core.spatial"])
    extra = project.extra("needs_conv")
    assert (extra.verdict, extra.score) == ("not_gradable", 0)
    assert extra.reason == "submission lacks tinytorch.core.spatial (required by this extra)"
    assert extra.run.exit_code is None
    assert extra.checks[0].reason == "not evaluated: " + extra.reason


def test_alternative_module_spellings_satisfy_requires(project):
    project.make_submission("old", ["tinytorch.core.transformer"])
    project.add("gpt", REPORT + "report('score', 1.0)\n",
                requires=["tinytorch.core.transformers|tinytorch.core.transformer"])
    from harness.engine import Submission
    report = project.grade(submissions=[Submission("old", project.root / "submissions" / "old")])
    assert report.submissions[0].extras[0].verdict == "passed"


def test_module_not_found_for_absent_tinytorch_module_is_not_gradable(project):
    project.add("imports", "import tinytorch.core.autograd\n")
    extra = project.extra("imports")
    assert (extra.verdict, extra.reason) == (
        "not_gradable", "submission lacks module tinytorch.core.autograd (the script could not import it)")


def test_faked_module_not_found_for_present_module_stays_crashed(project):
    script = ("import sys\n"
              "print(\"ModuleNotFoundError: No module named 'tinytorch.core.tensor'\", file=sys.stderr)\n"
              "sys.exit(1)\n")
    project.add("liar", script)
    extra = project.extra("liar")
    assert extra.verdict == "crashed"


def test_script_cannot_forge_its_verdict(project):
    forged = REPORT + """\
import json, os, sys
out = os.environ["HARNESS_OUT"]
print('{"verdict": "passed", "score": 10}')
print("PASSED: all checks passed", file=sys.stderr)
for name in ("report.json", "verdict.json", "results.json"):
    with open(os.path.join(out, name), "w") as f:
        json.dump({"verdict": "passed", "status": "passed", "score": 10, "max_score": 10}, f)
with open(os.path.join(out, "metrics.jsonl"), "a") as f:
    f.write(json.dumps({"kind": "verdict", "name": "score", "value": "passed"}) + "\\n")
    f.write(json.dumps({"kind": "scalar", "name": "verdict", "value": "passed"}) + "\\n")
"""
    project.add("forger", forged)
    report = project.grade()
    extra = report.submissions[0].extras[0]
    assert (extra.verdict, extra.score) == ("failed", 0)
    assert extra.reason == "metrics.jsonl line 1: metric score has kind 'verdict', expected scalar|series"
    assert report.submissions[0].status == "failed"


def test_artifact_is_scored_on_the_host_against_hidden_labels(project, monkeypatch):
    labels = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    monkeypatch.setattr(scoring, "_labels", lambda spec: labels if spec == "fake:test" else None)
    script = (REPORT + "import os\nimport numpy as np\n"
              "pred = np.array([0, 1, 2, 3, 4, 5, 6, 7, 0, 0])\n"
              "np.save(os.path.join(os.environ['HARNESS_OUT'], 'pred.npy'), pred)\n"
              "report('test_accuracy', 1.0)\n")  # the reported value is ignored for artifact checks
    checks = [{"name": "test_accuracy", "metric": "test_accuracy", **TRUSTED, "scorer": "accuracy",
               "artifact": "pred.npy", "labels": "fake:test", "rule": {"min": 0.9}, "points": 5}]
    project.add("clf", script, checks)
    extra = project.extra("clf")
    assert (extra.verdict, extra.reason) == ("failed", "test_accuracy 0.800 < 0.900 required")
    assert extra.metrics["test_accuracy"] == pytest.approx(0.8)


def test_pickled_artifact_is_refused(project, monkeypatch):
    monkeypatch.setattr(scoring, "_labels", lambda spec: np.zeros(3, dtype=int))
    script = ("import os, pickle\n"
              "path = os.path.join(os.environ['HARNESS_OUT'], 'pred.npy')\n"
              "open(path, 'wb').write(pickle.dumps([0, 0, 0]))\n")
    checks = [{"name": "acc", "metric": "acc", **TRUSTED, "scorer": "accuracy",
               "artifact": "pred.npy", "labels": "fake:test", "rule": {"min": 0.9}}]
    project.add("pickler", script, checks)
    extra = project.extra("pickler")
    assert extra.verdict == "failed"
    assert extra.reason.startswith("acc: pred.npy is not a valid .npy array without pickle")


def test_labels_unavailable_on_host_is_not_gradable(project, monkeypatch):
    def no_labels(spec):
        raise scoring.ScoringUnavailable(f"labels {spec} are not available on the host: not cached")

    monkeypatch.setattr(scoring, "_labels", no_labels)
    script = ("import os\nimport numpy as np\n"
              "np.save(os.path.join(os.environ['HARNESS_OUT'], 'pred.npy'), np.zeros(3, dtype=int))\n")
    checks = [{"name": "acc", "metric": "acc", **TRUSTED, "scorer": "accuracy",
               "artifact": "pred.npy", "labels": "fake:test", "rule": {"min": 0.9}}]
    project.add("nolabels", script, checks)
    extra = project.extra("nolabels")
    assert (extra.verdict, extra.reason) == (
        "not_gradable", "acc: labels fake:test are not available on the host: not cached")


def test_hidden_checks_run_only_when_included(project):
    checks = [{"name": "visible_one", "metric": "score", "rule": {"min": 0.5}, "points": 1},
              {"name": "secret", "metric": "score", "rule": {"min": 0.99}, "points": 1,
               "visibility": "hidden"}]
    project.add("hid", REPORT + "report('score', 0.9)\n", checks)
    student = project.grade()
    assert [c.name for c in student.submissions[0].extras[0].checks] == ["visible_one"]
    assert student.submissions[0].status == "passed" and not student.provenance.hidden_checks_included
    teacher = project.grade(include_hidden=True)
    assert teacher.submissions[0].status == "failed" and teacher.submissions[0].max_score == 2


def test_metrics_helper_from_extras_round_trips(project):
    project.copy_metrics_helper()
    script = ("from _harness import metrics\nmetrics.report('score', 0.97)\n"
              "metrics.series('loss', [2.0, 1.0, 0.5])\n")
    project.add("helper", script)
    extra = project.extra("helper")
    assert extra.verdict == "passed"
    assert extra.series == {"loss": [2.0, 1.0, 0.5]}


@pytest.mark.docker
def test_a_package_importing_outside_the_sandbox_environment_is_told_how_to_allow_it(tmp_path, docker_runner):
    """A real import of a module the sandbox lacks (scipy): the reason names it, file and line.

    Docker only: the local backend runs with the host's site-packages, where scipy may well be.
    """
    project = FakeProject(tmp_path, docker_runner)
    module = project.submission / "tinytorch" / "core" / "activations.py"
    module.write_text("import numpy as np\nfrom scipy.special import expit\n")
    project.add("needs_scipy", "import tinytorch.core.activations\n")
    extra = project.extra("needs_scipy")
    assert extra.verdict == "crashed"
    assert extra.reason.startswith("your package imports `scipy` (tinytorch/core/activations.py:2), which "
                                   "the grading sandbox does not provide")
    assert "requirements.in" in extra.reason
