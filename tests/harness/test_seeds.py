"""Stochastic checks (``seeds: {n, k, margin}``): a near miss is rerun with the next seeds, the check
passes when k of n runs pass, and every report lists each seed's value."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from harness import engine
from harness.criteria import CriteriaError, load_all
from harness.evidence.runs import EvidenceRun
from harness.report import feedback, gradescope, html, markdown, writer
from harness.report.terminal import print_summary
from tests.harness.conftest import REPORT

SEEDS = {"n": 3, "k": 2, "margin": 0.05}


def seeded_script(values: dict[int, float | str], log: Path) -> str:
    """An extra whose metric depends on HARNESS_SEED (``"crash"``: it raises for that seed); it
    appends each seed it ran with to ``log``."""
    return REPORT + f"""
seed = int(os.environ["HARNESS_SEED"])
with open({str(log)!r}, "a") as f:
    f.write(f"{{seed}}\\n")
value = {values!r}.get(seed, 0.0)
if value == "crash":
    raise RuntimeError(f"seed {{seed}} crashed")
report("score", value)
"""


def add_seeded(project, values, *, rule=None, seeds=None, points=10, **check):
    log = project.root / "seeds.log"
    spec = {"name": "score", "metric": "score", "rule": rule or {"min": 0.9}, "points": points,
            "seeds": seeds or SEEDS, **check}
    project.add("noisy", seeded_script(values, log), [spec])
    return log


def seeds_run(log: Path) -> list[int]:
    return [int(line) for line in log.read_text().split()]


def test_a_near_miss_passes_when_k_of_n_seeds_pass(project):
    log = add_seeded(project, {1337: 0.88, 1338: 0.95, 1339: 0.93})
    extra = project.extra("noisy")
    check = extra.checks[0]
    assert (extra.verdict, extra.score, check.verdict, check.score) == ("passed", 10, "passed", 10)
    assert seeds_run(log) == [1337, 1338, 1339]
    assert [(r.seed, r.value, r.verdict) for r in check.seeds.runs] == [
        (1337, 0.88, "failed"), (1338, 0.95, "passed"), (1339, 0.93, "passed")]
    assert (check.seeds.n, check.seeds.k, check.seeds.margin) == (3, 2, 0.05)
    assert check.value == 0.88  # the job's own seed's value; the others are in seeds
    assert check.reason == (
        "score >= 0.900 on 2 of 3 seeds (2 of 3 needed; the first run missed by less than the 5% margin): "
        "seeds 1337: 0.88 failed, 1338: 0.95 passed, 1339: 0.93 passed (2 of 3 passed; 2 of 3 needed)")


def test_a_near_miss_fails_when_fewer_than_k_pass(project):
    log = add_seeded(project, {1337: 0.88, 1338: 0.95, 1339: 0.80})
    extra = project.extra("noisy")
    check = extra.checks[0]
    assert (extra.verdict, extra.score, check.verdict) == ("failed", 0, "failed")
    assert seeds_run(log) == [1337, 1338, 1339]
    assert [r.seed for r in check.seeds.runs] == [1337, 1338, 1339]
    assert check.reason.startswith("score 0.880 < 0.900 required; rerun with other seeds (a miss by less "
                                   "than 5%): at most 1 of 3 could pass, 2 needed: seeds 1337: 0.88 failed")
    assert extra.reason == check.reason


def test_reruns_stop_once_the_outcome_is_decided(project):
    log = add_seeded(project, {1337: 0.88, 1338: 0.5, 1339: 0.99})
    check = project.extra("noisy").checks[0]
    assert check.verdict == "failed"
    assert seeds_run(log) == [1337, 1338]  # 2 of 3 can no longer pass: seed 1339 never runs
    assert [r.seed for r in check.seeds.runs] == [1337, 1338]


def test_k_of_1_passes_on_the_last_seed(project):
    log = add_seeded(project, {1337: 0.88, 1338: 0.7, 1339: 0.91}, seeds={"n": 3, "k": 1, "margin": 0.05})
    check = project.extra("noisy").checks[0]
    assert check.verdict == "passed" and seeds_run(log) == [1337, 1338, 1339]


def test_a_miss_beyond_the_margin_is_not_rerun(project):
    log = add_seeded(project, {1337: 0.85, 1338: 0.99, 1339: 0.99})  # 0.85 < 0.9 - 5% of 0.9
    extra = project.extra("noisy")
    assert extra.verdict == "failed" and extra.checks[0].seeds is None
    assert seeds_run(log) == [1337]


def test_a_first_run_that_passes_is_not_rerun(project):
    log = add_seeded(project, {1337: 0.95})
    extra = project.extra("noisy")
    assert extra.verdict == "passed" and extra.checks[0].seeds is None and seeds_run(log) == [1337]


def test_a_crashed_first_run_is_not_rerun(project):
    log = add_seeded(project, {1337: "crash", 1338: 0.99, 1339: 0.99})
    extra = project.extra("noisy")
    assert extra.verdict == "crashed" and seeds_run(log) == [1337]


def test_a_crashed_rerun_counts_as_a_failed_seed(project):
    add_seeded(project, {1337: 0.88, 1338: "crash", 1339: 0.99})
    check = project.extra("noisy").checks[0]
    assert check.verdict == "failed"
    crashed = check.seeds.runs[1]
    assert (crashed.seed, crashed.verdict, crashed.value) == (1338, "crashed", None)
    assert "RuntimeError: seed 1338 crashed" in crashed.reason


def test_max_and_range_rules_near_misses(project):
    log = add_seeded(project, {1337: 2.05, 1338: 1.9, 1339: 1.8}, rule={"max": 2.0})
    assert project.extra("noisy").verdict == "passed" and seeds_run(log) == [1337, 1338, 1339]
    log.unlink()
    add_seeded(project, {1337: 0.48, 1338: 0.6, 1339: 0.7}, rule={"range": [0.5, 1.0]})
    assert project.extra("noisy").verdict == "passed" and seeds_run(log) == [1337, 1338, 1339]


def test_partial_credit_of_the_first_run_is_kept_when_the_seeds_fail(project):
    add_seeded(project, {1337: 0.88, 1338: 0.1, 1339: 0.1}, partial={"floor": 0.8})
    check = project.extra("noisy").checks[0]
    assert check.verdict == "failed" and check.score == 8.0  # (0.88 - 0.8) / (0.9 - 0.8) of 10


def test_other_checks_keep_the_first_runs_result(project):
    log = project.root / "seeds.log"
    script = seeded_script({1337: 0.88, 1338: 0.95, 1339: 0.95}, log) + "report('fixed', 1.0)\n"
    project.add("noisy", script, [
        {"name": "score", "metric": "score", "rule": {"min": 0.9}, "seeds": SEEDS, "points": 5},
        {"name": "fixed", "metric": "fixed", "rule": {"min": 0.5}, "points": 5}])
    extra = project.extra("noisy")
    assert extra.verdict == "passed" and extra.score == 10 and extra.reason == "all 2 checks passed"
    assert extra.checks[1].seeds is None and extra.metrics["score"] == 0.88


class FakeEvidence:
    sealed_dir = None

    def __init__(self, inputs_dir: Path, log: list):
        self.inputs_dir, self.log = inputs_dir, log

    def score(self, out_dir, profile, timings=None):
        return {}

    def close(self):
        self.log.append(("close", self.inputs_dir.name))


def test_each_rerun_draws_and_closes_its_own_evidence_inputs(project, monkeypatch, tmp_path):
    add_seeded(project, {1337: 0.88, 1338: 0.95, 1339: 0.93})
    calls: list = []

    def prepare(criterion, profile, root, seed):
        calls.append(("prepare", seed))
        inputs = tmp_path / f"in-{seed}"
        inputs.mkdir()
        return FakeEvidence(inputs, calls)

    monkeypatch.setattr(engine, "prepare_run", prepare)
    assert EvidenceRun.close  # the real class has the interface the fake mimics
    assert project.extra("noisy").verdict == "passed"
    assert calls == [("prepare", 1337), ("close", "in-1337"), ("prepare", 1338), ("close", "in-1338"),
                     ("prepare", 1339), ("close", "in-1339")]


def test_every_report_lists_each_seed(project, tmp_path):
    add_seeded(project, {1337: 0.88, 1338: 0.95, 1339: 0.93})
    report = project.grade()
    data = json.loads(writer.write_json(report, tmp_path).read_text())
    runs = data["submissions"][0]["extras"][0]["checks"][0]["seeds"]["runs"]
    assert [(r["seed"], r["value"]) for r in runs] == [(1337, 0.88), (1338, 0.95), (1339, 0.93)]
    assert writer.read_report(tmp_path / "report.json") == report
    listed = "1337: 0.88 failed, 1338: 0.95 passed, 1339: 0.93 passed"
    console = Console(file=io.StringIO(), width=400)
    print_summary(report, console)
    sub = report.submissions[0]
    texts = {"terminal": console.file.getvalue(), "markdown": markdown.render(report),
             "html": html.render(report), "feedback": feedback.render(report, sub),
             "gradescope": json.dumps(gradescope.results(report, sub))}
    for name, text in texts.items():
        assert listed in text, name
    assert 'data-seeds="score"' in texts["html"]


def test_hidden_seeds_stay_out_of_the_students_feedback(project):
    add_seeded(project, {1337: 0.88, 1338: 0.95, 1339: 0.93}, visibility="hidden")
    report = project.grade(include_hidden=True)
    assert report.submissions[0].extras[0].checks[0].seeds is not None
    assert "1338" not in feedback.render(report, report.submissions[0])


@pytest.mark.parametrize(("seeds", "rule", "message"), [
    ({"n": 3, "k": 3, "margin": 0.05}, {"min": 0.9}, "checks[0].seeds: k must be below n"),
    ({"n": 1, "k": 1, "margin": 0.05}, {"min": 0.9}, "greater than or equal to 2"),
    ({"n": 3, "k": 2, "margin": 0}, {"min": 0.9}, "greater than 0"),
    ({"n": 3, "k": 2, "margin": 0.8}, {"min": 0.9}, "less than or equal to 0.5"),
    ({"n": 3, "k": 2, "margin": 0.05}, {"equals": True}, "seeds needs a min, max or range rule"),
    ({"n": 3, "k": 2, "margin": 0.05}, {"max": 0.0}, "but the bound of rule is 0"),
    ({"n": 3, "k": 2, "margni": 0.05}, {"min": 0.9}, "unknown key 'margni' (did you mean 'margin'?)"),
])
def test_invalid_seeds_are_rejected_with_the_line(project, seeds, rule, message):
    add_seeded(project, {}, rule=rule, seeds=seeds)
    with pytest.raises(CriteriaError) as info:
        load_all(project.criteria)
    problem = "\n".join(info.value.problems)
    assert "noisy.yaml:" in problem and ": checks[0]" in problem
    assert message in problem


def test_seeds_are_checked_against_profile_rules_too(project):
    add_seeded(project, {}, profile_rules={"quick": {"equals": 1.0}})
    with pytest.raises(CriteriaError, match="profile_rules.quick is equals"):
        load_all(project.criteria)


def test_a_rerun_the_harness_could_not_run_makes_the_check_not_gradable(project, monkeypatch):
    from harness.result_cache import is_cacheable

    add_seeded(project, {1337: 0.88, 1338: 0.95, 1339: 0.95})
    real = engine.prepare_run

    def prepare(criterion, profile, root, seed):
        if seed == 1338:
            raise OSError("secrets unreadable")
        return real(criterion, profile, root, seed)

    monkeypatch.setattr(engine, "prepare_run", prepare)
    extra = project.extra("noisy")
    assert extra.verdict == "not_gradable" and extra.checks[0].verdict == "not_gradable"
    assert extra.reason.startswith("infrastructure error on a rerun with another seed: score 0.880 < 0.900")
    assert extra.checks[0].seeds.runs[1].verdict == "not_gradable"
    assert not is_cacheable(extra)  # `harness grade` runs it again next time
