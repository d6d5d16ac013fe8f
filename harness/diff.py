"""Regressions and improvements between two canonical reports (e.g. a PR against its base branch).

Per submission and extra: a verdict that got worse (by the contract's precedence) or a lower
score is a regression, the opposite an improvement; so are the verdicts of single checks. An
extra or submission missing from the new report is a regression; a new one that does not pass
is too. Metric deltas are listed for information. When each report holds exactly one submission
they are compared even if their names differ (a PR checkout and a base checkout).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from harness.report.model import VERDICT_PRECEDENCE, ExtraResult, Report

ICONS = {"regression": "🔻", "improvement": "🟢"}


@dataclass(frozen=True)
class Change:
    kind: str  # regression | improvement
    submission: str
    extra: str  # "" for a whole submission
    what: str


@dataclass(frozen=True)
class MetricDelta:
    submission: str
    extra: str
    metric: str
    old: float
    new: float

    @property
    def delta(self) -> float:
        return self.new - self.old


@dataclass
class ReportDiff:
    changes: list[Change] = field(default_factory=list)
    metrics: list[MetricDelta] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def regressions(self) -> list[Change]:
        return [c for c in self.changes if c.kind == "regression"]

    @property
    def improvements(self) -> list[Change]:
        return [c for c in self.changes if c.kind == "improvement"]


def severity(verdict: str) -> int:
    """Higher is better: passed is the best, not_gradable the worst."""
    return VERDICT_PRECEDENCE.index(verdict)


def _direction(old: float, new: float) -> str | None:
    if new < old:
        return "regression"
    if new > old:
        return "improvement"
    return None


def _compare_extra(sub: str, old: ExtraResult, new: ExtraResult, out: ReportDiff) -> None:
    parts, kinds = [], []
    if (kind := _direction(severity(old.verdict), severity(new.verdict))) is not None:
        parts.append(f"verdict {old.verdict} → {new.verdict}")
        kinds.append(kind)
    if (kind := _direction(old.score, new.score)) is not None:
        parts.append(f"score {old.score:g} → {new.score:g} of {new.max_score:g}")
        kinds.append(kind)
    old_checks = {c.name: c for c in old.checks}
    for check in new.checks:
        before = old_checks.get(check.name)
        if before is not None and (kind := _direction(severity(before.verdict), severity(check.verdict))):
            parts.append(f"check {check.name} {before.verdict} → {check.verdict}")
            kinds.append(kind)
    if parts:
        kind = "regression" if "regression" in kinds else "improvement"
        reason = f" ({new.reason})" if kind == "regression" and new.verdict != "passed" else ""
        out.changes.append(Change(kind, sub, new.id, "; ".join(parts) + reason))
    for name in sorted(set(old.metrics) & set(new.metrics)):
        a, b = old.metrics[name], new.metrics[name]
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (a, b))
        if numeric and math.isfinite(a) and math.isfinite(b) and a != b:
            out.metrics.append(MetricDelta(sub, new.id, name, float(a), float(b)))


def compare(old: Report, new: Report) -> ReportDiff:
    out = ReportDiff()
    for label, a, b in (("profile", old.provenance.profile, new.provenance.profile),
                        ("seed", old.provenance.seed, new.provenance.seed),
                        ("backend", old.provenance.backend, new.provenance.backend),
                        ("criteria", old.provenance.criteria_hash, new.provenance.criteria_hash)):
        if a != b:
            out.notes.append(f"the reports differ in {label}: {a} vs {b}")
    old_subs = {s.name: s for s in old.submissions}
    new_subs = {s.name: s for s in new.submissions}
    if len(old_subs) == 1 and len(new_subs) == 1 and old_subs.keys() != new_subs.keys():
        [(old_name, only)] = old_subs.items()
        [new_name] = new_subs
        out.notes.append(f"comparing submission {old_name} (old) with {new_name} (new)")
        old_subs = {new_name: only}
    for name in old_subs:
        if name not in new_subs:
            out.changes.append(Change("regression", name, "", "submission missing from the new report"))
    for name, after in new_subs.items():
        before = old_subs.get(name)
        if before is None:
            continue
        old_extras = {e.id: e for e in before.extras}
        new_extras = {e.id: e for e in after.extras}
        for extra_id in old_extras.keys() - new_extras.keys():
            out.changes.append(Change("regression", name, extra_id, "extra missing from the new report"))
        for extra in after.extras:
            if extra.id in old_extras:
                _compare_extra(name, old_extras[extra.id], extra, out)
            elif extra.verdict != "passed":
                out.changes.append(Change("regression", name, extra.id, f"new extra, {extra.verdict}: "
                                          f"{extra.reason}"))
            else:
                out.changes.append(Change("improvement", name, extra.id, "new extra, passed"))
    return out


def _fmt(x: float) -> str:
    return f"{x:.6g}"


def _headline(diff: ReportDiff) -> str:
    r, i = len(diff.regressions), len(diff.improvements)
    return f"{r} regression{'s' * (r != 1)}, {i} improvement{'s' * (i != 1)}"


def render_text(diff: ReportDiff) -> str:
    lines = [f"harness diff: {_headline(diff)}"] + [f"note: {n}" for n in diff.notes]
    for change in diff.regressions + diff.improvements:
        where = change.submission + (f"/{change.extra}" if change.extra else "")
        lines.append(f"  {change.kind.upper():<11} {where}: {change.what}")
    if diff.metrics:
        lines.append("metric changes:")
        lines += [f"  {m.submission}/{m.extra} {m.metric}: {_fmt(m.old)} → {_fmt(m.new)} ({m.delta:+.4g})"
                  for m in diff.metrics]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")[:400]


def render_markdown(diff: ReportDiff) -> str:
    lines = [f"### harness diff: {_headline(diff)}", ""] + [f"> {_cell(n)}" for n in diff.notes]
    if diff.changes:
        lines += ["", "| | submission | extra | change |", "|---|---|---|---|"]
        lines += [f"| {ICONS[c.kind]} | {_cell(c.submission)} | {_cell(c.extra or '—')} | {_cell(c.what)} |"
                  for c in diff.regressions + diff.improvements]
    else:
        lines += ["", "No verdict or score changed."]
    if diff.metrics:
        lines += ["", f"<details><summary>Metric changes ({len(diff.metrics)})</summary>", "",
                  "| submission | extra | metric | old | new | Δ |", "|---|---|---|---|---|---|"]
        lines += [f"| {_cell(m.submission)} | {m.extra} | {_cell(m.metric)} | {_fmt(m.old)} | "
                  f"{_fmt(m.new)} | {m.delta:+.4g} |" for m in diff.metrics]
        lines += ["", "</details>"]
    return "\n".join(lines) + "\n"
