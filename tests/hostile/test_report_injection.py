"""Markup in what a script prints or reports, and in a submission's name, never becomes live in
the Markdown step summary, the feedback files, the HTML report or the terminal summary.

Graded for real (local backend): one submission reports a string metric, a metric name and
stderr full of payloads and exits 0; another crashes with the payload as its error message.
"""

from __future__ import annotations

import io
import re
import textwrap
from html.parser import HTMLParser

from markdown_it import MarkdownIt

from harness.criteria import load_criterion
from harness.engine import Submission
from harness.pipeline import run_checks
from harness.report import feedback, html, markdown, terminal
from harness.runners.local import LocalRunner
from tests.hostile.project import HostileProject

OSC52 = "\x1b]52;c;ZXZpbA==\x07"  # a terminal escape that writes the clipboard
PAYLOAD = ("<img src=x onerror=alert(1)></details><script>alert(2)</script> [click](javascript:alert(3)) "
           "![pic](https://evil.example/p.png) https://evil.example/x www.evil.example me@evil.example "
           f"`tick` | pipe \\ {OSC52}")
NAME_PAYLOAD = "<img src=x onerror=alert(4)>[n](javascript:alert(5))"  # a metric name: 100 characters at most
REPORTS = textwrap.dedent(f"""
    import json, os, sys
    PAYLOAD = {PAYLOAD!r}
    sys.stderr.write(PAYLOAD + "\\n")
    with open(os.path.join(os.environ["HARNESS_OUT"], "metrics.jsonl"), "a") as handle:
        for _ in range(2):  # reported twice: the name comes back in a problem
            handle.write(json.dumps({{"kind": "scalar", "name": {NAME_PAYLOAD!r}, "value": 1}}) + "\\n")
    def answer():
        return PAYLOAD  # a string metric where a number is expected
    """)
CRASHES = f"import sys\nsys.stderr.write({PAYLOAD!r} + '\\n')\nraise SystemExit({PAYLOAD!r})\n"
STUDENT = "mallory [x](javascript:alert(6)) <b>bold</b>"
# What a payload could have made live: a link or image anywhere, a script, an event handler, a URL.
_LIVE_TAGS = {"a", "img", "script", "iframe", "object", "embed", "svg", "math", "form"}
_URL_ATTRIBUTES = ("href", "src", "action", "formaction", "xlink:href")


class Markup(HTMLParser):
    """The tags and the text of an HTML document."""

    def __init__(self, document: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.feed(document)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def live(self, own_tags=frozenset()) -> list[str]:
        """Tags or attributes a payload could have made live (``own_tags``: the page's own, allowed)."""
        return [f"<{tag} {attrs}>" for tag, attrs in self.tags
                if (tag in _LIVE_TAGS - own_tags) or any(name.startswith("on") for name in attrs)
                or any("javascript:" in (attrs.get(name) or "") for name in _URL_ATTRIBUTES)]


def _graded(tmp_path, monkeypatch):
    project = HostileProject(tmp_path, REPORTS)
    crash = project.add_submission("crash", CRASHES)
    monkeypatch.setattr("harness.datasets.sandbox_view", lambda name: project.data)
    return run_checks([load_criterion(project.criterion_file)],
                      [Submission(STUDENT, project.hostile), Submission("crash", crash)],
                      runner=LocalRunner(), extras_dir=project.extras, jobs=2)


def _outside_fences(text: str) -> str:
    return re.sub(r"^```.*?^```$", "", text, flags=re.MULTILINE | re.DOTALL)


def _assert_inert_markdown(text: str, details: int) -> None:
    assert "\x1b" not in text and "\x07" not in text
    page = Markup(MarkdownIt("commonmark", {"html": True}).enable("table").render(text))
    assert page.live() == []
    assert [tag for tag, _ in page.tags].count("details") == details
    rest = _outside_fences(text)  # in a code block the payload is literal
    assert rest.count("</details>") == details  # the payload's </details> closed nothing
    # what GitHub would autolink by itself: none of it is left whole
    assert not re.search(r"https?://|www\.|@evil", rest), rest
    shown = "".join(page.text)
    assert "<img src=x onerror=alert(1)>" in shown and "[click](javascript:alert(3))" in shown


def test_markdown_summary_and_feedback_carry_no_live_markup(tmp_path, monkeypatch):
    report = _graded(tmp_path, monkeypatch)
    extras = {sub.name: sub.extras[0] for sub in report.submissions}
    assert extras[STUDENT].verdict == "failed" and extras["crash"].verdict == "crashed"
    assert NAME_PAYLOAD in extras[STUDENT].problems[0]  # the payloads really reached the report
    _assert_inert_markdown(markdown.render(report), details=2)
    for sub in report.submissions:
        _assert_inert_markdown(feedback.render(report, sub), details=0)


def test_html_report_carries_no_live_markup(tmp_path, monkeypatch):
    page = Markup(html.render(_graded(tmp_path, monkeypatch)))
    assert page.live(own_tags={"a", "svg"}) == []
    assert all(attrs["href"].startswith("#student-") for tag, attrs in page.tags if tag == "a")
    assert [tag for tag, _ in page.tags].count("details") == 2  # one stderr box per failed extra
    shown = "".join(page.text)
    assert "<img src=x onerror=alert(1)>" in shown and "\x1b" not in shown


def test_terminal_summary_carries_no_escape_sequence_or_markup(tmp_path, monkeypatch):
    report = _graded(tmp_path, monkeypatch)
    out = io.StringIO()
    terminal.print_summary(report, terminal.make_console(out))
    text = out.getvalue()
    assert "\x1b" not in text and "\x07" not in text
    assert "[x](javascript:alert(6)) <b>bold</b>" in text  # markup shown as typed, not applied
