"""The HTML report: self-contained, escaped, and rendered by headless Chromium with its numbers right."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest

from harness.report import html
from tests.grade.sample_report import HOSTILE_STDERR, sample_report

WINDOW = (1100, 1600)


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        pytest.fail("headless Chromium is needed for this test: apt-get install -y chromium")
    command = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
               f"--user-data-dir={profile}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)


class DomIndex(HTMLParser):
    """Text of elements with an id, attributes of every svg chart, and rows per student."""

    def __init__(self):
        super().__init__()
        self.by_id: dict[str, str] = {}
        self.series: list[dict] = []
        self.scores: dict[str, str] = {}
        self.scripts = 0
        self._open_id: str | None = None
        self._row: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script":
            self.scripts += 1
        if "id" in attrs and tag == "b":
            self._open_id, self.by_id[attrs["id"]] = attrs["id"], ""
        if tag == "svg" and "data-series" in attrs:
            self.series.append(attrs)
        if tag == "tr" and "data-student" in attrs:
            self._row = attrs["data-student"]
        if tag == "td" and "data-score" in attrs and self._row:
            self.scores[self._row] = attrs["data-score"]

    def handle_endtag(self, tag):
        if tag == "b":
            self._open_id = None

    def handle_data(self, data):
        if self._open_id:
            self.by_id[self._open_id] += data


def png_size_and_colours(path: Path) -> tuple[int, int, int]:
    """(width, height, distinct byte values in the decoded image data) of a PNG."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    idat, offset = b"", 8
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset:offset + 8])
        if kind == b"IDAT":
            idat += data[offset + 8:offset + 8 + length]
        offset += 12 + length
    return width, height, len(set(zlib.decompress(idat)))


def test_html_is_self_contained_and_escapes_what_scripts_print(tmp_path):
    text = html.render(sample_report())
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text), "no external assets"
    assert "<link" not in text and "@import" not in text and "<script" not in text
    assert "&lt;script&gt;alert(&quot;owned&quot;)&lt;/script&gt;" in text
    assert text.count('<section class="student"') == 3


def test_html_report_renders_in_headless_chromium_with_its_key_numbers(tmp_path):
    page = html.write(sample_report(), tmp_path)
    png = tmp_path / "report.png"
    chromium(f"--screenshot={png}", f"--window-size={WINDOW[0]},{WINDOW[1]}", page.as_uri(),
             profile=tmp_path / "profile")
    width, height, colours = png_size_and_colours(png)
    assert (width, height) == WINDOW and colours > 20, "a real page, not a blank screenshot"
    dom = chromium("--dump-dom", page.as_uri(), profile=tmp_path / "profile").stdout
    index = DomIndex()
    index.feed(dom)
    assert index.by_id == {"n-submissions": "3", "n-passed": "1", "mean-score": "44.4%",
                           "median-score": "33.3%"}
    assert index.scores == {"alice": "15", "bob": "5", "mallory": "0"}
    assert index.scripts == 0, "the hostile stderr stayed text"
    curves = {(s["data-series"], s["data-points"]) for s in index.series}
    assert curves == {("train_loss", "4"), ("val_accuracy", "3")}, "a None breaks the curve, not the page"
    assert 'aria-label="score histogram"' in dom and "Pass rate per extra" in dom
    assert ">1/3<" in dom and ">2/3<" in dom, "pass rate per extra: mnist 1 of 3, xor 2 of 3"
    assert HOSTILE_STDERR.splitlines()[1].replace("<", "&lt;").replace(">", "&gt;") in dom


def test_histogram_counts_each_tenth(tmp_path):
    svg = html.histogram_svg([0, 5, 33.3, 100, 100, 99.9])
    assert re.findall(r'data-bin="(\d)">(\d)<', svg) == [("0", "2"), ("3", "1"), ("9", "3")]
