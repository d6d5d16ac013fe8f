"""Broken copies of the reference fail the right check of the right extra, for the right reason.

The language-model extras (text_generation, generation_opts, quickdemo) are broken on the course-style
fixture instead, in test_transformer_course.py: they drive the course's API, which the fixture keeps.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


def failed_checks(result) -> dict[str, str]:
    return {check.name: check.reason for check in result.checks if check.verdict == "failed"}
