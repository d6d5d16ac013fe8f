"""A self-contained HTML report: class overview with charts, then one section per student.

No external assets and no JavaScript: inline CSS and inline SVG charts drawn here (score
histogram, pass rate per extra, failure categories, training curves from each extra's
``series``), so the file opens offline and can be mailed or attached to a CI run. Every text
goes through ``esc`` (HTML-escaped, control characters replaced), so nothing a script printed
or reported becomes markup. Key numbers carry ``id``/``data-*`` attributes for tests.
"""

from __future__ import annotations

import html
import math
import re
import statistics
from pathlib import Path

from harness.judging.verdicts import printable
from harness.report.model import VERDICT_PRECEDENCE, ExtraResult, Report, SubmissionResult
from harness.report.notes import budget_note
from harness.report.writer import atomic_write_text

FILENAME = "report.html"
COLORS = {"passed": "#2e7d32", "failed": "#c62828", "timeout": "#b7791f", "out_of_memory": "#dd6b20",
          "crashed": "#6b46c1", "not_gradable": "#718096"}
SERIES_COLORS = ("#2b6cb0", "#c05621", "#2f855a", "#9b2c2c", "#6b46c1", "#2c7a7b")
CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1a202c;
background:#f7fafc}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:19px;margin:32px 0 8px;border-bottom:1px solid #cbd5e0}
h3{font-size:15px;margin:18px 0 6px}
.muted{color:#4a5568;font-size:12px}
.diagnosis{background:#fffbea;border-left:3px solid #d69e2e;padding:6px 10px}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin:16px 0}
.card{background:#fff;border:1px solid #e2e8f0;border-radius:8px;padding:10px 16px;min-width:130px}
.card b{display:block;font-size:24px}
.charts{display:flex;gap:16px;flex-wrap:wrap;align-items:flex-start}
.chart{background:#fff;border:1px solid #e2e8f0;border-radius:8px;padding:8px}
table{border-collapse:collapse;background:#fff;width:100%;margin:8px 0}
th,td{border:1px solid #e2e8f0;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#edf2f7}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.badge{display:inline-block;padding:0 6px;border-radius:4px;color:#fff;font-size:12px;white-space:nowrap}
section.student{background:#fff;border:1px solid #e2e8f0;border-radius:8px;padding:4px 16px 12px;
margin:16px 0}
pre{background:#1a202c;color:#e2e8f0;padding:8px;border-radius:6px;overflow-x:auto;font-size:12px;
max-height:240px}
a{color:#2b6cb0}
"""


def esc(value) -> str:
    return html.escape(printable(str(value)), quote=True)


def anchor(name: str) -> str:
    return "student-" + re.sub(r"[^A-Za-z0-9_-]", "_", name)


def badge(verdict: str) -> str:
    return (f'<span class="badge" data-verdict="{esc(verdict)}" style="background:{COLORS[verdict]}">'
            f'{esc(verdict.replace("_", " "))}</span>')


def percent(score: float, top: float) -> float:
    return 100.0 * score / top if top else 0.0


# --- charts ------------------------------------------------------------------------------------

def histogram_svg(percents: list[float], bins: int = 10) -> str:
    """Vertical bars: how many students scored in each tenth of the maximum."""
    counts = [0] * bins
    for p in percents:
        counts[min(bins - 1, int(p // (100 / bins)))] += 1
    width, height, left, bottom, top = 360, 210, 30, 28, 34
    bar = (width - left - 10) / bins
    peak = max(counts + [1])
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             'aria-label="score histogram">',
             f'<text x="{width / 2}" y="11" text-anchor="middle" font-size="12">Score distribution (% of max)'
             '</text>']
    for i, count in enumerate(counts):
        h = (height - bottom - top) * count / peak
        x, y = left + i * bar, height - bottom - h
        parts.append(f'<rect x="{x + 2:.1f}" y="{y:.1f}" width="{bar - 4:.1f}" height="{h:.1f}" '
                     f'fill="#2b6cb0"><title>{i * 100 // bins}-{(i + 1) * 100 // bins}%: {count}'
                     '</title></rect>')
        if count:
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{y - 2:.1f}" text-anchor="middle" font-size="11" '
                         f'data-bin="{i}">{count}</text>')
    for i in range(0, bins + 1, 2):
        x = left + i * bar
        parts.append(f'<text x="{x:.1f}" y="{height - bottom + 14}" text-anchor="middle" font-size="10">'
                     f'{i * 100 // bins}</text>')
    parts.append(f'<line x1="{left}" y1="{height - bottom}" x2="{width - 10}" y2="{height - bottom}" '
                 'stroke="#4a5568"/></svg>')
    return "".join(parts)


def hbar_svg(title: str, rows: list[tuple[str, float, str, str]], max_value: float) -> str:
    """Horizontal bars: (label, value, value text, colour) per row."""
    row_h, left, width = 22, 150, 380
    height = 24 + row_h * max(1, len(rows))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="{esc(title)}">',
             f'<text x="{width / 2}" y="13" text-anchor="middle" font-size="12">{esc(title)}</text>']
    span = width - left - 60
    for i, (label, value, text, color) in enumerate(rows):
        y = 22 + i * row_h
        w = span * (value / max_value if max_value else 0)
        parts.append(f'<text x="{left - 6}" y="{y + 14}" text-anchor="end" font-size="11">'
                     f'{esc(label[:24])}</text>')
        parts.append(f'<rect x="{left}" y="{y + 3}" width="{span}" height="14" fill="#edf2f7"/>')
        parts.append(f'<rect x="{left}" y="{y + 3}" width="{w:.1f}" height="14" fill="{color}"/>')
        parts.append(f'<text x="{left + span + 4}" y="{y + 14}" font-size="11">{esc(text)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _segments(values: list[float | None]) -> list[list[tuple[int, float]]]:
    """Runs of finite points (a None or NaN breaks the line)."""
    runs: list[list[tuple[int, float]]] = [[]]
    for i, v in enumerate(values):
        if v is None or not math.isfinite(v):
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append((i, float(v)))
    return [r for r in runs if r]


def line_svg(name: str, values: list[float | None], color: str) -> str:
    """One training curve with its first, last, min and max values labelled."""
    width, height, left, right, top, bottom = 300, 170, 46, 10, 20, 24
    points = [p for run in _segments(values) for p in run]
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="{esc(name)}" data-series="{esc(name)}" data-points="{len(points)}">',
             f'<text x="{width / 2}" y="13" text-anchor="middle" font-size="12">{esc(name)}</text>']
    if not points:
        parts.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" font-size="11">'
                     'no finite values</text></svg>')
        return "".join(parts)
    lo, hi = min(v for _, v in points), max(v for _, v in points)
    if hi == lo:
        lo, hi = lo - 0.5, hi + 0.5
    n = max(1, len(values) - 1)

    def xy(i: int, v: float) -> str:
        x = left + (width - left - right) * i / n
        y = top + (height - top - bottom) * (1 - (v - lo) / (hi - lo))
        return f"{x:.1f},{y:.1f}"

    parts.append(f'<rect x="{left}" y="{top}" width="{width - left - right}" '
                 f'height="{height - top - bottom}" fill="#f7fafc" stroke="#e2e8f0"/>')
    for label, y in ((hi, top + 4), (lo, height - bottom)):
        parts.append(f'<text x="{left - 4}" y="{y}" text-anchor="end" font-size="10">{label:.4g}</text>')
    parts.append(f'<text x="{left}" y="{height - 8}" font-size="10">0</text>'
                 f'<text x="{width - right}" y="{height - 8}" text-anchor="end" font-size="10">'
                 f'{len(values) - 1}</text>')
    for run in _segments(values):
        if len(run) == 1:
            cx, cy = xy(*run[0]).split(",")
            parts.append(f'<circle cx="{cx}" cy="{cy}" r="2.5" fill="{color}"/>')
        else:
            parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" '
                         f'points="{" ".join(xy(i, v) for i, v in run)}"/>')
    parts.append(f'<text x="{width - right}" y="{top - 4}" text-anchor="end" font-size="10" '
                 f'data-last="{points[-1][1]:.6g}">last {points[-1][1]:.4g}</text></svg>')
    return "".join(parts)


# --- page --------------------------------------------------------------------------------------

def _overview(report: Report) -> list[str]:
    subs = report.submissions
    percents = [percent(s.score, s.max_score) for s in subs]
    all_passed = sum(s.status == "passed" for s in subs)
    mean = statistics.fmean(percents) if percents else 0.0
    median = statistics.median(percents) if percents else 0.0
    p = report.provenance
    out = [f'<h1>Grading report</h1><p class="muted">{esc(report.created_at)} · '
           f'profile <b>{esc(p.profile)}</b> · seed {p.seed} · backend {esc(p.backend)}'
           f'{" " + esc(p.image_id) if p.image_id else ""} · '
           f'harness {esc(report.harness_version)} · hidden checks '
           f'{"included" if p.hidden_checks_included else "not run"}</p>',
           '<div class="cards">',
           f'<div class="card">Submissions<b id="n-submissions">{len(subs)}</b></div>',
           f'<div class="card">All extras passed<b id="n-passed">{all_passed}</b></div>',
           f'<div class="card">Mean score<b id="mean-score">{mean:.1f}%</b></div>',
           f'<div class="card">Median score<b id="median-score">{median:.1f}%</b></div>',
           "</div>", '<div class="charts">', f'<div class="chart">{histogram_svg(percents)}</div>']
    ids = list(dict.fromkeys(e.id for _, e in report.all_extras()))
    rows = []
    for extra_id in ids:
        verdicts = [e.verdict for _, e in report.all_extras() if e.id == extra_id]
        passed = sum(v == "passed" for v in verdicts)
        rows.append((extra_id, passed / len(verdicts), f"{passed}/{len(verdicts)}", COLORS["passed"]))
    out.append(f'<div class="chart" id="pass-rate">{hbar_svg("Pass rate per extra", rows, 1.0)}</div>')
    counts = {v: sum(e.verdict == v for _, e in report.all_extras()) for v in VERDICT_PRECEDENCE}
    failure_rows = [(v.replace("_", " "), n, str(n), COLORS[v])
                    for v, n in counts.items() if n and v != "passed"]
    failures = hbar_svg("Failure categories (extras)", failure_rows or [("none", 0, "0", COLORS["passed"])],
                        max(counts.values(), default=1))
    out += [f'<div class="chart" id="failure-categories">{failures}</div>', "</div>"]
    return out


def _students_table(report: Report) -> list[str]:
    ids = list(dict.fromkeys(e.id for _, e in report.all_extras()))
    out = ['<h2>Students</h2><table id="students"><tr><th>student</th><th>score</th><th>%</th>'
           '<th>status</th>' + "".join(f"<th>{esc(i)}</th>" for i in ids) + "</tr>"]
    for sub in sorted(report.submissions, key=lambda s: s.name):
        by_id = {e.id: e for e in sub.extras}
        cells = "".join(f'<td>{badge(by_id[i].verdict)} {by_id[i].score:g}</td>' if i in by_id
                        else "<td></td>" for i in ids)
        out.append(f'<tr data-student="{esc(sub.name)}">'
                   f'<td><a href="#{anchor(sub.name)}">{esc(sub.name)}</a></td>'
                   f'<td class="num" data-score="{sub.score:g}">{sub.score:g}/{sub.max_score:g}</td>'
                   f'<td class="num">{percent(sub.score, sub.max_score):.0f}</td><td>{badge(sub.status)}</td>'
                   f"{cells}</tr>")
    out.append("</table>")
    return out


def _extra_block(extra: ExtraResult) -> list[str]:
    out = [f'<h3>{esc(extra.id)} {badge(extra.verdict)} <span class="muted">'
           f'{extra.score:g}/{extra.max_score:g} points · {extra.run.wall_seconds:.1f} s · '
           f'{esc(extra.title)}</span></h3>',
           f"<p>{esc(extra.reason)}</p>"]
    if extra.diagnosis is not None:
        out.append(f'<p class="diagnosis" data-diagnosis="{esc(extra.diagnosis.component or "")}">'
                   f"<strong>Why it most likely failed:</strong> {esc(extra.diagnosis.summary)}</p>")
    wall = extra.run.wall_budget
    if wall is not None:
        out.append(f'<p class="muted" data-wall-budget="{wall.seconds:g}" '
                   f'data-raw-budget="{wall.raw_seconds:g}">{esc(budget_note(extra))}</p>')
    out += [f'<p class="muted" data-seeds="{esc(c.name)}">{esc(c.name)}: {esc(c.seeds.describe())}</p>'
            for c in extra.checks if c.seeds is not None]
    if extra.checks:
        out.append("<table><tr><th>check</th><th>value</th><th>rule</th><th>verdict</th><th>points</th>"
                   "<th>reason</th></tr>")
        for c in extra.checks:
            value = "—" if c.value is None else f"{c.value:.6g}" if isinstance(c.value, float) else c.value
            hidden = ' <span class="muted">(hidden)</span>' if c.visibility == "hidden" else ""
            hidden += f' <span class="muted">{esc(c.source_label.strip())}</span>' if c.source_label else ""
            out.append(f"<tr><td>{esc(c.name)}{hidden}</td><td class=num>{esc(value)}</td>"
                       f"<td>{esc(c.metric)} {esc(c.rule)}</td><td>{badge(c.verdict)}</td>"
                       f"<td class=num>{c.score:g}/{c.max_score:g}</td><td>{esc(c.reason)}</td></tr>")
        out.append("</table>")
    if extra.series:
        charts = [line_svg(name, values, SERIES_COLORS[i % len(SERIES_COLORS)])
                  for i, (name, values) in enumerate(extra.series.items())]
        boxes = "".join(f'<div class="chart">{c}</div>' for c in charts)
        out.append(f'<div class="charts">{boxes}</div>')
    if extra.verdict != "passed" and extra.run.stderr_tail.strip():
        tail = esc(extra.run.stderr_tail[-3000:])
        out.append(f"<details><summary>stderr (last lines)</summary><pre>{tail}</pre></details>")
    return out


def _student_section(sub: SubmissionResult) -> list[str]:
    out = [f'<section class="student" id="{anchor(sub.name)}" data-student="{esc(sub.name)}">',
           f'<h2>{esc(sub.name)} {badge(sub.status)} <span class="muted">'
           f'{sub.score:g}/{sub.max_score:g} points</span></h2><p class="muted">hash {esc(sub.hash)}</p>']
    for extra in sub.extras:
        out += _extra_block(extra)
    out.append("</section>")
    return out


def render(report: Report) -> str:
    body = _overview(report) + _students_table(report)
    for sub in sorted(report.submissions, key=lambda s: s.name):
        body += _student_section(sub)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>Grading report · {len(report.submissions)} submissions</title>"
            f"<style>{CSS}</style></head>"
            "<body><main>" + "\n".join(body) + "</main></body></html>\n")


def write(report: Report, directory: Path) -> Path:
    return atomic_write_text(Path(directory) / FILENAME, render(report))
