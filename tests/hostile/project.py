"""A fake grading project in a tmp dir: one small extra, its criterion, a dataset, two submissions.

The extra uses the real ``extras/_harness`` metrics channel; ``good`` answers correctly, ``hostile``
carries the attack under test in its ``tinytorch/__init__.py``. Every tree is made world-writable
so that only the sandbox's read-only mounts can refuse a write.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from harness.criteria import load_criterion
from harness.engine import Submission
from harness.pipeline import run_checks
from harness.report.model import ExtraResult

REPO = Path(__file__).resolve().parents[2]
WALL_SECONDS = 8  # generous for the well-behaved neighbour on a busy CI machine
MEMORY_MIB = 512
GOOD_PACKAGE = "def answer():\n    return 42\n"

EXTRA = '''\
"""Ask the submission for the answer and report it."""
from _harness import metrics

import tinytorch

metrics.report("answer", tinytorch.answer())
print("extra finished")
'''

CRITERION = """\
id: answer
title: The answer
script: answer.py
milestone: "hostile-suite"
requires: [tinytorch]
datasets: [fakedata]
profiles:
  full:
    args: []
    expected_seconds: 1
    budget: {{wall_seconds: {wall_seconds}, memory_mib: {memory_mib}, cpus: 1, pids: 32}}
  quick:
    args: []
    expected_seconds: 1
    budget: {{wall_seconds: {wall_seconds}, memory_mib: {memory_mib}, cpus: 1, pids: 32}}
checks:
  - name: answer
    metric: answer
    source: self-reported
    trust: self-reported
    rule: {{equals: 42}}
    points: 1
"""


def _world_writable(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        path.chmod(0o777 if path.is_dir() else 0o666)


def tree_digest(root: Path) -> str:
    """sha256 over every path, mode and content under ``root`` (to prove nothing changed)."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        digest.update(f"{path.relative_to(root)}\0{path.stat().st_mode}\0".encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


class HostileProject:
    def __init__(self, root: Path, hostile_init: str, wall_seconds: float = WALL_SECONDS):
        self.root = root
        self.extras = root / "extras"
        shutil.copytree(REPO / "extras" / "_harness", self.extras / "_harness",
                        ignore=shutil.ignore_patterns("__pycache__"))
        (self.extras / "answer.py").write_text(EXTRA)
        self.criterion_file = root / "criteria" / "answer.yaml"
        self.criterion_file.parent.mkdir()
        self.criterion_file.write_text(CRITERION.format(wall_seconds=wall_seconds, memory_mib=MEMORY_MIB))
        self.data = root / "fakedata"
        self.data.mkdir()
        (self.data / "x_test.npy").write_bytes(b"not really numpy")
        self.good = self.add_submission("good", GOOD_PACKAGE)
        self.hostile = self.add_submission("hostile", hostile_init)
        for tree in (self.extras, self.data, self.good, self.hostile):
            _world_writable(tree)

    def add_submission(self, name: str, init: str) -> Path:
        """submissions/<name>/tinytorch/__init__.py holding ``init``; returns submissions/<name>."""
        package = self.root / "submissions" / name / "tinytorch"
        package.mkdir(parents=True)
        (package / "__init__.py").write_text(init)
        return package.parent

    def digests(self) -> dict[str, str]:
        return {str(tree): tree_digest(tree) for tree in (self.extras, self.data, self.good, self.hostile)}

    def grade(self, runner) -> dict[str, ExtraResult]:
        """Both submissions in one parallel run; the extra's result per submission name."""
        report = run_checks([load_criterion(self.criterion_file)],
                            [Submission("good", self.good), Submission("hostile", self.hostile)],
                            runner=runner, extras_dir=self.extras, jobs=2)
        return {sub.name: sub.extras[0] for sub in report.submissions}
