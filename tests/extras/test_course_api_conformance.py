"""The extras use only the course's API (docs/course-api.json), and the doc says which entries they use.

The walk itself lives in scripts/course_api.py (also a command: it lists problems and rewrites the
doc's "extras use" column); these tests run it on every extra, show it can fail, and keep the
column in step with the extras.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("course_api", REPO / "scripts" / "course_api.py")
course_api = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(course_api)


@pytest.fixture(scope="module")
def course():
    return course_api.load_course()


@pytest.mark.parametrize("source", course_api.extra_sources(), ids=lambda p: str(p.relative_to(REPO)))
def test_the_extra_uses_only_the_courses_api(source, course):
    problems = course_api.problems_of(source, course)
    assert not problems, f"{source.relative_to(REPO)}:\n  " + "\n  ".join(problems)


def test_the_walk_catches_what_the_course_lacks(course):
    """The checks can fail: a fake extra with three departures from the course."""
    exports, params, methods = course
    tree = ast.parse("from tinytorch.core.autograd import no_grad\n"
                     "from tinytorch.core.layers import Conv3d\n"
                     "out = model.generate(prompt, max_new_tokens=4, top_k=8)\n")
    bound, problems = course_api.bindings(tree, exports, course_api.module_paths())
    problems += course_api.keyword_problems(tree, bound, params, methods)
    assert len(problems) == 3, problems
    assert "no_grad" in problems[0] and "Conv3d" in problems[1] and "top_k" in problems[2]


def test_the_docs_extras_use_column_is_current(course):
    cells = course_api.usage_column(course)
    assert cells["tinytorch.core.layers.Linear"] != "no", "every classic extra builds Linear layers"
    stale = [line for line in course_api.DOC.read_text().splitlines()
             if (row := course_api.row_of(line)) and row[0] in cells and row[1] != cells[row[0]]]
    assert not stale, (f"{len(stale)} rows of docs/course-api.md have a stale 'extras use' cell, e.g. "
                       f"{stale[0][:120]!r}: run python scripts/course_api.py --write")
