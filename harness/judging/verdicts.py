"""Host-side verdicts: a RunResult plus the script's outputs, judged against a Criterion.

Grade-bearing checks are ``source: host``: their numbers come from the evidence kit, computed on
the host from the run's evidence. ``self-reported`` checks read ``metrics.jsonl`` (or score a file
the script wrote) and earn points only where the criterion says ``trust: self-reported``.
"""

from __future__ import annotations

import math
import re
import signal
from collections.abc import Mapping
from pathlib import Path

from harness.criteria import Check, Criterion, fmt_number
from harness.evidence import EvidenceProblem
from harness.evidence.kit import HostValue, Measured
from harness.judging.metrics import ParsedMetrics, parse_metrics
from harness.judging.scorers import ArtifactProblem, ScoringUnavailable, score_artifact
from harness.report.model import CheckResult, ExtraResult, RunInfo, WallBudget, worst
from harness.runners.base import RunResult
from harness.sandbox_imports import explain_missing_module

TAIL_CHARS = 4000
# Control characters but tab, newline and carriage return: in a script's output they could move a
# terminal's cursor, set its title or clipboard, or make a JUnit file invalid XML.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_MISSING_MODULE = re.compile(r"ModuleNotFoundError: No module named '(tinytorch(?:\.[A-Za-z0-9_]+)*)'")


def module_present(submission_dir: Path, module: str) -> bool:
    """Whether ``a.b.c`` exists in the submission as ``a/b/c.py`` or ``a/b/c/__init__.py``."""
    base = Path(submission_dir).joinpath(*module.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def missing_modules(submission_dir: Path, requires: list[str]) -> list[str]:
    """Entries of ``requires`` (``a|b`` = either) that the submission lacks, checked on the host."""
    return [entry for entry in requires
            if not any(module_present(submission_dir, alt) for alt in entry.split("|"))]


def _points(x: float) -> float:
    return round(x, 4)


def _seconds(x: float) -> str:
    return f"{x:g}"


def printable(text: str) -> str:
    """``text`` with each control character but tab, newline and carriage return shown as U+FFFD."""
    return _CONTROL.sub("\ufffd", text)


def _last_error_line(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return printable(lines[-1][:300]) if lines else "no error output"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def run_failure(criterion: Criterion, profile: str, run: RunResult,
                submission_dir: Path, wall: WallBudget | None = None) -> tuple[str, str] | None:
    """(verdict, reason) when the run itself decides the outcome, else None (judge the checks).
    ``wall``: the wall budget as scaled to this machine, when it was."""
    budget = criterion.profiles[profile].budget
    if run.infra_error:
        return "not_gradable", f"infrastructure error, not the submission's fault: {run.infra_error}"
    if run.pids_limit_hit:
        return "crashed", (f"process limit reached: the script and what it started filled the limit of "
                           f"{budget.pids} processes and threads (a fork bomb?); start fewer of them")
    if run.timed_out:
        if wall is not None:
            return "timeout", f"killed after {_seconds(wall.seconds)} s budget {wall.scaling()}"
        return "timeout", f"killed after {_seconds(budget.wall_seconds)} s budget"
    if run.oom_killed:
        return "out_of_memory", f"exceeded {budget.memory_mib} MiB"
    if run.signal is None and run.exit_code == 0:
        if run.out_problem is None:
            return None
        return "failed", f"the script's output could not be taken: {run.out_problem}"
    missing = _MISSING_MODULE.findall(run.stderr[-TAIL_CHARS:])
    if missing and not module_present(submission_dir, missing[-1]):
        return "not_gradable", f"submission lacks module {missing[-1]} (the script could not import it)"
    foreign = explain_missing_module(run.stderr[-TAIL_CHARS:], submission_dir)
    if foreign:
        return "crashed", foreign
    if run.signal is not None:
        how = f"killed by {_signal_name(run.signal)}"
    else:
        how = f"exit code {run.exit_code}"
    return "crashed", f"{how}: {_last_error_line(run.stderr)}"


def _credit(check: Check, profile: str, value: float) -> float:
    """Fraction of the points on the linear ramp from ``partial.floor`` to the rule's bound."""
    if check.partial is None or isinstance(value, (bool, str)):
        return 0.0
    rule, floor = check.rule_for(profile), check.partial.floor
    if rule.kind == "min":
        fraction = (value - floor) / (rule.min - floor)
    else:
        fraction = (floor - value) / (floor - rule.max)
    return min(max(fraction, 0.0), 1.0)


def references_dir(criterion: Criterion) -> Path | None:
    """The answer keys of the secrets this process grades with (never mounted into a sandbox)."""
    from harness.evidence.secrets import active_secrets

    return active_secrets().references_dir


def _host_value(check: Check, host: Mapping[str, HostValue] | None):
    if host is None or check.metric not in host:
        return None, ("failed", f"{check.metric}: the host computed no value from the run's evidence")
    value = host[check.metric]
    if isinstance(value, EvidenceProblem):
        return None, ("failed", f"{check.metric}: {value}")
    if isinstance(value, Measured):
        return value.value, None
    return value, None


def _note(check: Check, host: Mapping[str, HostValue] | None) -> str | None:
    value = (host or {}).get(check.metric)
    return value.note if isinstance(value, Measured) else None


def _value_for(check: Check, run: RunResult, parsed: ParsedMetrics, references: Path | None = None,
               host: Mapping[str, HostValue] | None = None):
    """(value, None) or (None, (verdict, reason)) for the check's metric."""
    if check.source == "host":
        return _host_value(check, host)
    if check.artifact is not None:
        reference = None
        if check.reference is not None:
            if references is None:
                return None, ("not_gradable", f"{check.metric}: reference {check.reference} has no "
                                              "criteria folder to be found in")
            reference = references / check.reference
        try:
            return score_artifact(check.scorer, run.out_dir, check.artifact, check.labels,
                                  reference=reference), None
        except ArtifactProblem as exc:
            return None, ("failed", f"{check.metric}: {exc}")
        except ScoringUnavailable as exc:
            return None, ("not_gradable", f"{check.metric}: {exc}")
    if check.metric in parsed.metric_problems:
        return None, ("failed", parsed.metric_problems[check.metric])
    if check.metric in parsed.scalars:
        return parsed.scalars[check.metric], None
    why = f"metric {check.metric} was not reported"
    if parsed.file_problems:
        why += f" ({parsed.file_problems[0]})"
    return None, ("failed", why)


def judge_check(check: Check, profile: str, run: RunResult, parsed: ParsedMetrics,
                references: Path | None = None, host: Mapping[str, HostValue] | None = None) -> CheckResult:
    """One check of a run that completed normally (``references``: where reference files live;
    ``host``: the metrics the evidence kit computed)."""
    rule = check.rule_for(profile)
    base = dict(name=check.name, metric=check.metric, rule=rule.describe(), max_score=check.points,
                visibility=check.visibility, explain=check.explain, source=check.source,
                component=check.component)
    value, problem = _value_for(check, run, parsed, references, host)
    if problem is not None:
        return CheckResult(**base, verdict=problem[0], reason=problem[1], score=0.0)
    miss = rule.miss_reason(check.metric, value)
    if miss is None:
        reason = f"{check.metric} {fmt_number(value)} {rule.describe()}"
        return CheckResult(**base, value=value, verdict="passed", reason=reason, score=check.points)
    score = _points(check.points * _credit(check, profile, value))
    note = _note(check, host) if check.source == "host" else parsed.notes.get(check.metric)
    if note is None and isinstance(value, float) and not math.isfinite(value):
        note = ("not a finite number: the host's computation from the run's evidence met NaN/inf and "
                "recorded no further cause; see the diagnosis for the component most likely at fault")
    if note:
        miss += f" ({note})"
    if score > 0:
        miss += f" (partial credit {fmt_number(score)}/{fmt_number(check.points)} points)"
    return CheckResult(**base, value=value, verdict="failed", reason=miss, score=score)


def _not_run(check: Check, profile: str, verdict: str, reason: str) -> CheckResult:
    return CheckResult(name=check.name, metric=check.metric, rule=check.rule_for(profile).describe(),
                       verdict=verdict, reason=f"not evaluated: {reason}", score=0.0,
                       max_score=check.points, visibility=check.visibility, explain=check.explain,
                       source=check.source, component=check.component)


def run_info(run: RunResult | None, wall: WallBudget | None = None) -> RunInfo:
    if run is None:
        return RunInfo(wall_budget=wall)
    return RunInfo(exit_code=run.exit_code, signal=run.signal, timed_out=run.timed_out,
                   oom_killed=run.oom_killed, wall_seconds=round(run.wall_seconds, 3),
                   cpu_seconds=round(run.cpu_seconds, 3),
                   peak_rss_mib=None if run.peak_rss_mib is None else round(run.peak_rss_mib, 1),
                   stdout_tail=printable(run.stdout[-TAIL_CHARS:]),
                   stderr_tail=printable(run.stderr[-TAIL_CHARS:]),
                   infra_error=run.infra_error, wall_budget=wall)


def judge(criterion: Criterion, profile: str, run: RunResult | None, submission_dir: Path,
          include_hidden: bool, skipped: str | None = None,
          host: Mapping[str, HostValue] | None = None, wall: WallBudget | None = None) -> ExtraResult:
    """The verdict of one extra. ``run`` is None when it was not started; ``skipped`` says why;
    ``host`` holds the metrics computed on the host from the run's evidence; ``wall`` the wall
    budget as scaled to this machine (when the criterion states it for a reference machine)."""
    # a check that does not apply to this profile is not judged and is left out of the report
    checks = [c for c in criterion.checks_for(profile) if include_hidden or c.visibility == "visible"]
    head = dict(id=criterion.id, title=criterion.title, script=criterion.script, profile=profile,
                max_score=_points(sum(c.points for c in checks)), run=run_info(run, wall))
    if run is None:
        reason = skipped or "the run was not started"
        results = [_not_run(c, profile, "not_gradable", reason) for c in checks]
        return ExtraResult(**head, verdict="not_gradable", reason=reason, score=0.0, checks=results)
    parsed = parse_metrics(run.out_dir)
    metrics = dict(parsed.scalars)
    failure = run_failure(criterion, profile, run, submission_dir, wall)
    if failure is not None:
        results = [_not_run(c, profile, *failure) for c in checks]
        return ExtraResult(**head, verdict=failure[0], reason=failure[1], score=0.0, metrics=metrics,
                           series=parsed.series, problems=parsed.problems(), checks=results)
    results = [judge_check(c, profile, run, parsed, references_dir(criterion), host) for c in checks]
    for check, result in zip(checks, results, strict=True):
        if (check.source == "host" or check.artifact is not None) and result.value is not None:
            metrics[check.metric] = result.value
    verdict, reason, score = checks_outcome(results)
    return ExtraResult(**head, verdict=verdict, reason=reason, score=score,
                       metrics=metrics, series=parsed.series, problems=parsed.problems(), checks=results)


def checks_outcome(results: list[CheckResult]) -> tuple[str, str, float]:
    """(verdict, reason, score) of an extra whose run completed normally, from its checks."""
    verdict = worst(r.verdict for r in results)
    if verdict == "passed":
        reason = "the check passed" if len(results) == 1 else f"all {len(results)} checks passed"
    else:
        reason = "; ".join(r.reason for r in results if r.verdict != "passed")
    return verdict, reason, _points(sum(r.score for r in results))
