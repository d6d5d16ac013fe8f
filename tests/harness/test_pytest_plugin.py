"""The pytest plugin collects criteria files as items and runs them through the engine."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.harness.conftest import REPO, REPORT


def test_criteria_become_pytest_items_with_harness_verdicts(project):
    project.add("good", REPORT + "report('score', 0.95)\n")
    project.add("weak", REPORT + "report('score', 0.5)\n")
    project.add("needs_conv", "pass\n", requires=["tinytorch.core.spatial"])
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    command = [sys.executable, "-m", "pytest", "-p", "harness.pytest_plugin", "-p", "no:cacheprovider",
               "--harness", str(project.criteria), "--harness-backend", "local",
               "--harness-tinytorch", str(project.submission), "--harness-extras-dir", str(project.extras),
               "--harness-profile", "full", "-rs", "-q"]
    done = subprocess.run(command, cwd=project.root, env=env, capture_output=True, text=True, timeout=120)
    out = done.stdout
    assert done.returncode == 1, out + done.stderr
    assert "1 failed, 1 passed, 1 skipped" in out
    assert "weak: failed: score 0.500 < 0.900 required" in out
    assert "submission lacks tinytorch.core.spatial (required by this extra)" in out

