"""Machine-relative budgets: ``harness calibrate``, ``reference_machine:`` budgets scaled by the speed
factor, and the same verdicts on a machine made twice as slow."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

from harness import calibrate
from harness.cli import main
from harness.criteria import CriteriaError, load_all
from harness.engine import Submission
from harness.report import feedback, gradescope, html, markdown, writer
from harness.report.terminal import print_summary
from tests.harness.conftest import REPORT, budget

REF = calibrate.DEFAULT_REFERENCE


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    """A calibration cache of the test's own; no speed override or slowdown from the environment."""
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "harness-cache"))
    monkeypatch.delenv(calibrate.SPEED_ENV, raising=False)
    monkeypatch.delenv(calibrate.SLOWDOWN_ENV, raising=False)
    return tmp_path / "harness-cache"


def on_reference(wall_seconds, **rest):
    return {**budget(wall_seconds=wall_seconds, **rest), "reference_machine": REF}


# --- the stored factor and how it is read ------------------------------------------------------------

def test_never_calibrated_means_factor_1_with_a_note():
    speed = calibrate.current()
    assert (speed.factor, speed.source) == (1.0, "default")
    assert "never calibrated" in speed.note and "harness calibrate" in speed.note


def test_the_environment_overrides_the_stored_factor(monkeypatch):
    calibrate.save({**calibrate_record(0.26), "workload_seconds": 0.26})
    assert calibrate.current().factor == pytest.approx(0.26 / calibrate.REFERENCE_MACHINES[REF].seconds)
    monkeypatch.setenv(calibrate.SPEED_ENV, "2.5")
    assert (calibrate.current().factor, calibrate.current().source) == (2.5, calibrate.SPEED_ENV)
    monkeypatch.setenv(calibrate.SPEED_ENV, "-1")
    with pytest.raises(calibrate.CalibrationError, match="expected a positive number"):
        calibrate.current()


def calibrate_record(seconds: float) -> dict:
    return {"format": calibrate.FORMAT, "workload_version": calibrate.WORKLOAD_VERSION,
            "workload_seconds": seconds, "trials": [seconds], "machine": {}}


def test_a_stale_or_corrupt_calibration_is_ignored_with_the_reason(own_cache):
    calibrate.save({**calibrate_record(1.0), "workload_version": calibrate.WORKLOAD_VERSION + 1})
    speed = calibrate.current()
    assert speed.factor == 1.0 and "another version of the workload" in speed.note
    (own_cache / calibrate.FILENAME).write_text("{not json")
    assert "unreadable" in calibrate.current().note


def test_scaling_multiplies_and_clamps():
    wall = calibrate.scale_wall(400, REF, calibrate.Speed(2.0, "calibration"))
    assert (wall.raw_seconds, wall.seconds, wall.speed_factor, wall.unclamped_factor) == (400, 800, 2.0, None)
    assert wall.describe() == f"800 s (400 s on {REF} x 2.00, calibration)"
    low, high = calibrate.FACTOR_RANGE
    fast = calibrate.scale_wall(400, REF, calibrate.Speed(0.01, "calibration"))
    slow = calibrate.scale_wall(400, REF, calibrate.Speed(50, calibrate.SPEED_ENV))
    assert (fast.speed_factor, fast.unclamped_factor, fast.seconds) == (low, 0.01, 400 * low)
    assert (slow.speed_factor, slow.unclamped_factor, slow.seconds) == (high, 50, 400 * high)
    assert slow.describe().endswith("measured factor 50.00 clamped)")


def test_reference_machine_is_validated(project):
    typo = {**budget(), "reference_machine": "project-2cor"}
    project.add("x", REPORT + "report('score', 1.0)\n", full=typo, quick=on_reference(10))
    with pytest.raises(CriteriaError) as info:
        load_all(project.criteria)
    [problem] = info.value.problems
    line = next(i for i, text in enumerate((project.criteria / "x.yaml").read_text().splitlines(), 1)
                if "project-2cor\n" in text + "\n")
    known = "|".join(calibrate.REFERENCE_MACHINES)
    assert problem == (
        f"{project.criteria / 'x.yaml'}:{line}: profiles.full.budget.reference_machine: unknown reference "
        f"machine 'project-2cor' (did you mean '{REF}'?); expected one of {known}")


# --- budgets in runs and reports ------------------------------------------------------------------------

def test_a_scaled_budget_is_enforced_and_reported(project, monkeypatch):
    monkeypatch.setenv(calibrate.SPEED_ENV, "2")
    project.add("slow", "import time\ntime.sleep(30)\n", full=on_reference(0.75))
    extra = project.extra("slow")
    assert extra.verdict == "timeout"
    assert extra.reason == f"killed after 1.5 s budget (0.75 s on {REF} x 2.00, {calibrate.SPEED_ENV})"
    assert 1.5 <= extra.run.wall_seconds < 5
    assert extra.run.wall_budget.seconds == 1.5 and extra.run.wall_budget.raw_seconds == 0.75


def test_a_budget_without_reference_machine_is_never_scaled(project, monkeypatch):
    monkeypatch.setenv(calibrate.SPEED_ENV, "3")
    project.add("plain", REPORT + "report('score', 1.0)\n", full=budget(wall_seconds=20))
    task_extra = project.extra("plain")
    assert task_extra.run.wall_budget is None and task_extra.verdict == "passed"


def test_every_report_shows_the_raw_and_the_scaled_budget(project, monkeypatch, tmp_path):
    monkeypatch.setenv(calibrate.SPEED_ENV, "1.5")
    project.add("scaled", REPORT + "report('score', 1.0)\n", full=on_reference(40))
    report = project.grade()
    extra = report.submissions[0].extras[0]
    assert extra.run.wall_budget.model_dump() == {
        "reference_machine": REF, "raw_seconds": 40.0, "speed_factor": 1.5, "seconds": 60.0,
        "factor_source": calibrate.SPEED_ENV, "unclamped_factor": None}
    data = json.loads(writer.write_json(report, tmp_path).read_text())
    assert data["submissions"][0]["extras"][0]["run"]["wall_budget"]["raw_seconds"] == 40.0
    assert writer.read_report(tmp_path / "report.json") == report
    console = Console(file=io.StringIO(), width=300)
    print_summary(report, console)
    sub = report.submissions[0]
    shown = f"60 s (40 s on {REF} x 1.50, {calibrate.SPEED_ENV})"
    for name, text in {"terminal": console.file.getvalue(), "markdown": markdown.render(report),
                       "html": html.render(report), "feedback": feedback.render(report, sub),
                       "gradescope": gradescope.results(report, sub)["output"]}.items():
        assert shown in text, name
    assert 'data-wall-budget="60" data-raw-budget="40"' in html.render(report)


def test_reports_without_the_new_fields_still_load(tmp_path):
    from tests.harness.test_reports import sample_report

    path = writer.write_json(sample_report(), tmp_path)
    data = json.loads(path.read_text())
    for extra in data["submissions"][0]["extras"]:
        extra["run"].pop("wall_budget")
        for check in extra["checks"]:
            check.pop("seeds")
    path.write_text(json.dumps(data))
    assert writer.read_report(path) == sample_report()


# --- the command line ----------------------------------------------------------------------------------

def cli_check(project, tmp_path, *names):
    return main(["check", *names, "--backend", "local", "--tinytorch", str(project.submission),
                 "--criteria-dir", str(project.criteria), "--extras-dir", str(project.extras),
                 "--report-dir", str(tmp_path / "reports")])


def test_check_says_in_one_line_when_never_calibrated(project, tmp_path, capsys):
    project.add("scaled", REPORT + "report('score', 1.0)\n", full=on_reference(40))
    project.add("plain", REPORT + "report('score', 1.0)\n")
    assert cli_check(project, tmp_path, "plain") == 0
    assert "calibrated" not in capsys.readouterr().err  # nothing to scale, nothing to say
    assert cli_check(project, tmp_path, "scaled") == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if "calibrated" in line]
    assert notes == ["harness: note: this machine was never calibrated: budgets stated for a reference "
                     "machine are used as they are (speed factor 1.0); run `harness calibrate` once"]


def test_a_malformed_speed_factor_is_a_usage_error(project, tmp_path, capsys, monkeypatch):
    project.add("scaled", REPORT + "report('score', 1.0)\n", full=on_reference(40))
    monkeypatch.setenv(calibrate.SPEED_ENV, "fast")
    assert cli_check(project, tmp_path, "scaled") == 2
    assert f"{calibrate.SPEED_ENV}='fast': expected a positive number" in capsys.readouterr().err


def test_a_clamped_factor_is_said(project, tmp_path, capsys, monkeypatch):
    project.add("scaled", REPORT + "report('score', 1.0)\n", full=on_reference(40))
    monkeypatch.setenv(calibrate.SPEED_ENV, "10")
    assert cli_check(project, tmp_path, "scaled") == 0
    assert "lies outside [0.25, 4] and was clamped" in capsys.readouterr().err


def test_calibrate_stores_the_factor_and_the_machine_and_show_prints_it(own_cache, capsys):
    assert main(["calibrate", "--repeats", "2"]) == 0
    out = capsys.readouterr().out
    record = json.loads((own_cache / calibrate.FILENAME).read_text())
    assert record["workload_version"] == calibrate.WORKLOAD_VERSION and len(record["trials"]) == 2
    assert record["workload_seconds"] == min(record["trials"]) > 0
    assert record["speed_factor"] == pytest.approx(record["workload_seconds"] / record["reference_seconds"],
                                                   abs=1e-3)
    assert {"cpu", "cpus", "platform", "python", "numpy", "blas", "env"} <= set(record["machine"])
    assert f"stored in {own_cache / calibrate.FILENAME}" in out
    assert main(["calibrate", "--show"]) == 0
    shown = capsys.readouterr().out
    assert f"speed factor [calibration]: {record['speed_factor']:.3f}" in shown
    assert record["machine"]["cpu"] in shown


def test_show_without_a_calibration(capsys):
    assert main(["calibrate", "--show"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("not calibrated")
    assert "speed factor [default]: 1.000 (as fast as the reference)" in out


# --- the same verdicts on a machine made twice as slow ----------------------------------------------------

WORK_SECONDS = 1.2  # what the fake package's extra "computes" on the normal machine


def sleeper(speed_file) -> str:
    """An extra whose runtime is the package's work times the simulated machine's slowness."""
    return REPORT + f"""
import time
import tinytorch
slowness = float(open({str(speed_file)!r}).read())
time.sleep(tinytorch.WORK * slowness)
report("score", 1.0)
"""


def measured_factor(slowdown: float, monkeypatch) -> float:
    monkeypatch.setenv(calibrate.SLOWDOWN_ENV, str(slowdown))
    assert main(["calibrate", "--repeats", "2"]) == 0
    return calibrate.current().factor


def test_the_same_criteria_give_the_same_verdicts_on_a_machine_twice_as_slow(project, monkeypatch, tmp_path):
    speed_file = tmp_path / "machine-slowness"
    speed_file.write_text("1")
    fine = project.make_submission("fine", ["tinytorch.core.tensor"])
    (fine / "tinytorch" / "__init__.py").write_text(f"WORK = {WORK_SECONDS}\n")
    pathological = project.make_submission("pathological", ["tinytorch.core.tensor"])
    (pathological / "tinytorch" / "__init__.py").write_text(f"WORK = {3 * WORK_SECONDS}\n")
    both = [Submission("fine", fine), Submission("pathological", pathological)]

    normal = measured_factor(1, monkeypatch)
    # size the budget on this machine: the fine package's runtime, with 40 % to spare, in reference seconds
    project.add("timed", sleeper(speed_file), full=on_reference(60))
    probe = project.grade(submissions=both[:1]).submissions[0].extras[0]
    assert probe.verdict == "passed"
    sized = round(1.4 * probe.run.wall_seconds / normal, 3)
    project.add("timed", sleeper(speed_file), full=on_reference(sized))

    def verdicts():
        report = project.grade(submissions=both, jobs=2)
        return {s.name: s.extras[0] for s in report.submissions}

    fast = verdicts()
    assert {n: e.verdict for n, e in fast.items()} == {"fine": "passed", "pathological": "timeout"}

    speed_file.write_text("2")  # the machine is now twice as slow, for the extra and for the workload
    slow = measured_factor(2, monkeypatch)
    assert 1.6 < slow / normal < 2.5, (normal, slow)
    scaled = verdicts()
    assert {n: e.verdict for n, e in scaled.items()} == {"fine": "passed", "pathological": "timeout"}
    budget_now, budget_before = scaled["fine"].run.wall_budget, fast["fine"].run.wall_budget
    assert budget_now.raw_seconds == budget_before.raw_seconds
    assert budget_now.seconds / budget_before.seconds == pytest.approx(slow / normal, rel=1e-3)
    assert scaled["fine"].run.wall_seconds > 1.6 * WORK_SECONDS  # it really ran slower

    # the contrast: the same budget left unscaled on the slow machine turns the pass into a timeout
    monkeypatch.setenv(calibrate.SPEED_ENV, str(normal))
    unscaled = project.grade(submissions=both[:1]).submissions[0].extras[0]
    assert unscaled.verdict == "timeout"


def test_a_cached_result_stands_only_while_its_budget_would_give_the_same_verdict():
    from harness.report.model import RunInfo

    def wall(seconds):
        return calibrate.scale_wall(seconds, REF, calibrate.Speed(1.0, "calibration"))

    finished = RunInfo(exit_code=0, wall_seconds=50, wall_budget=wall(100))
    timed_out = RunInfo(timed_out=True, wall_seconds=100, wall_budget=wall(100))
    holds = calibrate.budget_still_holds
    assert holds(finished, wall(100)) and holds(finished, wall(60)) and not holds(finished, wall(40))
    assert holds(timed_out, wall(80)) and not holds(timed_out, wall(120))
    assert holds(RunInfo(), None) and not holds(RunInfo(), wall(100)) and not holds(finished, None)
