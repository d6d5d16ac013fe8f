"""Stochastic checks (``seeds: {n, k, margin}``): a near miss is rerun with other seeds.

When a run completed normally and a check with ``seeds`` missed its rule's bound by less than
``margin`` x |bound|, the engine runs the extra again with ``seed + 1``, ``seed + 2``, ... (each
run with its own evidence inputs) until the check's outcome is decided: it passes once ``k`` of
its ``n`` runs pass, and fails once that can no longer happen (so at most ``n`` runs in all).
The rest of the extra's result (run, metrics, other checks) is the first run's, the job's own
seed; each stochastic check that was rerun lists every seed's value in ``CheckResult.seeds``.
"""

from __future__ import annotations

from collections.abc import Callable

from harness.criteria import Check, Criterion, Rule
from harness.judging.verdicts import checks_outcome
from harness.report.model import CheckResult, ExtraResult, SeedRun, SeedRuns

RUN_FAILURES = ("timeout", "out_of_memory", "crashed", "not_gradable")


def near_miss(rule: Rule, value, margin: float) -> bool:
    """Whether ``value`` fails ``rule`` by less than ``margin`` relative to the bound it misses."""
    if isinstance(value, (bool, str)) or value is None or value != value:  # NaN is no near miss
        return False
    if rule.kind == "min":
        return rule.min - margin * abs(rule.min) <= value < rule.min
    if rule.kind == "max":
        return rule.max < value <= rule.max + margin * abs(rule.max)
    if rule.kind == "range":
        lo, hi = rule.range
        return lo - margin * abs(lo) <= value < lo or hi < value <= hi + margin * abs(hi)
    return False


def _seed_run(seed: int, extra: ExtraResult, name: str) -> SeedRun:
    """What the run of ``seed`` says about check ``name`` (the run's own failure if it did not finish)."""
    check = next((c for c in extra.checks if c.name == name), None)
    if check is None:  # e.g. the rerun was not gradable before any check was listed
        return SeedRun(seed=seed, verdict=extra.verdict, reason=extra.reason,
                       wall_seconds=extra.run.wall_seconds)
    reason = check.reason if check.verdict in ("passed", "failed") else extra.reason
    return SeedRun(seed=seed, value=check.value, verdict=check.verdict, reason=reason,
                   wall_seconds=extra.run.wall_seconds)


def _decided(spec, runs: list[SeedRun]) -> bool:
    passes = sum(r.verdict == "passed" for r in runs)
    return passes >= spec.k or passes + (spec.n - len(runs)) < spec.k


def settle(criterion: Criterion, profile: str, seed: int, first: ExtraResult,
           attempt: Callable[[int], ExtraResult]) -> ExtraResult:
    """``first`` (the run with ``seed``), with every near-missed stochastic check rerun through
    ``attempt(seed)`` until decided, and the extra's verdict, reason and score recomputed."""
    if first.verdict in RUN_FAILURES:
        return first
    specs: dict[str, Check] = {c.name: c for c in criterion.checks_for(profile) if c.seeds is not None}
    pending: dict[str, list[SeedRun]] = {}
    for result in first.checks:
        check = specs.get(result.name)
        if check is not None and result.verdict == "failed" and result.value is not None \
                and near_miss(check.rule_for(profile), result.value, check.seeds.margin):
            pending[result.name] = [_seed_run(seed, first, result.name)]
    if not pending:
        return first
    offset = 0
    while any(not _decided(specs[name].seeds, runs) for name, runs in pending.items()):
        offset += 1
        rerun = attempt(seed + offset)
        for name, runs in pending.items():
            if not _decided(specs[name].seeds, runs):
                runs.append(_seed_run(seed + offset, rerun, name))
    checks = [_settled(r, specs[r.name], pending[r.name]) if r.name in pending else r for r in first.checks]
    verdict, reason, score = checks_outcome(checks)
    if verdict == "not_gradable":  # so that `harness grade` retries it instead of caching it
        reason = f"infrastructure error on a rerun with another seed: {reason}"
    return first.model_copy(update={"checks": checks, "verdict": verdict, "reason": reason, "score": score})


def _settled(first: CheckResult, check: Check, runs: list[SeedRun]) -> CheckResult:
    spec = check.seeds
    seeds = SeedRuns(n=spec.n, k=spec.k, margin=spec.margin, runs=runs)
    margin = f"{spec.margin:.0%}"
    if seeds.passes >= spec.k:
        reason = (f"{check.metric} {first.rule} on {seeds.passes} of {len(runs)} seeds ({spec.k} of {spec.n} "
                  f"needed; the first run missed by less than the {margin} margin): {seeds.describe()}")
        return first.model_copy(update={"verdict": "passed", "score": check.points, "reason": reason,
                                        "seeds": seeds})
    verdict = "failed"
    if any(r.verdict == "not_gradable" for r in runs):  # an infrastructure failure decided it
        verdict = "not_gradable"
    possible = seeds.passes + spec.n - len(runs)
    reason = (f"{first.reason}; rerun with other seeds (a miss by less than {margin}): at most "
              f"{possible} of {spec.n} could pass, {spec.k} needed: {seeds.describe()}")
    return first.model_copy(update={"verdict": verdict, "reason": reason, "seeds": seeds,
                                    "score": first.score if verdict == "failed" else 0.0})

