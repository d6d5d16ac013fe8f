"""JUnit XML from the canonical report: one testsuite per (submission, extra), one testcase per check.

failed -> <failure>; timeout, out_of_memory, crashed -> <error>; not_gradable -> <skipped>.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from harness.report.model import CheckResult, ExtraResult, Report
from harness.report.writer import atomic_write_text

_ERRORS = ("timeout", "out_of_memory", "crashed")
_XML_INVALID = dict.fromkeys(c for c in range(32) if c not in (9, 10, 13))


def _clean(text: str) -> str:
    """Drop characters XML 1.0 cannot hold (a script may print anything)."""
    return (text or "").translate(_XML_INVALID)


def _testcase(suite: ET.Element, classname: str, name: str, seconds: float, verdict: str,
              reason: str, details: str) -> None:
    case = ET.SubElement(suite, "testcase", classname=classname, name=name, time=f"{seconds:.3f}")
    if verdict == "failed":
        ET.SubElement(case, "failure", message=_clean(reason), type=verdict).text = _clean(details)
    elif verdict in _ERRORS:
        ET.SubElement(case, "error", message=_clean(reason), type=verdict).text = _clean(details)
    elif verdict == "not_gradable":
        ET.SubElement(case, "skipped", message=_clean(reason))


def _check_details(extra: ExtraResult, check: CheckResult) -> str:
    lines = [f"{check.name}{check.source_label}: {check.reason}", f"rule: {check.metric} {check.rule}",
             f"score: {check.score:g}/{check.max_score:g}"]
    if extra.run.stderr_tail and check.verdict in _ERRORS:
        lines += ["", "stderr (tail):", extra.run.stderr_tail[-2000:]]
    return "\n".join(lines)


def to_xml(report: Report) -> ET.Element:
    root = ET.Element("testsuites", name="tinytorch-harness")
    totals = dict(tests=0, failures=0, errors=0, skipped=0)
    for submission, extra in report.all_extras():
        suite = ET.SubElement(root, "testsuite", name=f"{submission.name}/{extra.id}",
                              time=f"{extra.run.wall_seconds:.3f}")
        classname = f"{submission.name}.{extra.id}"
        share = extra.run.wall_seconds / max(1, len(extra.checks))
        for check in extra.checks:
            _testcase(suite, classname, check.name, share, check.verdict, check.reason,
                      _check_details(extra, check))
        if not extra.checks:  # every check hidden: still one line for the run itself
            _testcase(suite, classname, "run", extra.run.wall_seconds, extra.verdict, extra.reason,
                      extra.run.stderr_tail[-2000:])
        counts = {"tests": len(suite)}
        for key, tag in (("failures", "failure"), ("errors", "error"), ("skipped", "skipped")):
            counts[key] = len(suite.findall(f"testcase/{tag}"))
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
        ET.SubElement(suite, "system-out").text = _clean(extra.run.stdout_tail)
        ET.SubElement(suite, "system-err").text = _clean(extra.run.stderr_tail)
    for key, value in totals.items():
        root.set(key, str(value))
    return root


def write(report: Report, directory: Path) -> Path:
    tree = ET.ElementTree(to_xml(report))
    ET.indent(tree)
    text = ET.tostring(tree.getroot(), encoding="unicode", xml_declaration=True)
    return atomic_write_text(Path(directory) / "junit.xml", text + "\n")
