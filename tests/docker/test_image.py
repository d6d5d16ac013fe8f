"""The grading image is tagged by content: same tree, same tag; the lock is strict."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.runners.docker.image import ImageConfigError, default_base, image_tag, parse_lock, tree_hash

ROOT = Path(__file__).resolve().parents[2]
OFFLINE_BASE = subprocess.run(["bash", str(ROOT / "scripts/build-base-image.sh"), "--print-tag"],
                              capture_output=True, text=True, check=True).stdout.strip()
CLI = "import sys; from harness.cli import main; sys.exit(main())"


@pytest.fixture
def tree(tmp_path, repo_root):
    for name in ("Dockerfile", "requirements.lock"):
        shutil.copy(repo_root / name, tmp_path / name)
    return tmp_path


def test_tag_depends_only_on_the_inputs(tree, repo_root):
    assert tree_hash(tree) == tree_hash(repo_root)
    first = image_tag(tree, "base:1", "sha256:aa")
    assert image_tag(tree, "base:1", "sha256:aa") == first
    assert image_tag(tree, "base:1", "sha256:bb") != first
    assert image_tag(tree, "base:2", "sha256:aa") != first
    (tree / "Dockerfile").write_text((tree / "Dockerfile").read_text() + "# changed\n")
    assert image_tag(tree, "base:1", "sha256:aa") != first


def test_the_dockerfile_pins_its_default_base_by_digest(repo_root):
    base = default_base(repo_root)
    assert base.startswith("python:3.11") and "@sha256:" in base and len(base.split("@sha256:")[1]) == 64


def test_lock_pins_the_course_environment_with_hashes(repo_root):
    locked = {pkg.name: pkg for pkg in parse_lock(repo_root / "requirements.lock")}
    assert {"numpy", "rich", "PyYAML"} <= set(locked)
    assert all(pkg.version.count(".") == 2 and pkg.hashes for pkg in locked.values())


def test_an_unhashed_lock_entry_is_an_error_naming_the_line(tree):
    pinned = "numpy==2.4.6 \\\n    --hash=sha256:" + "a" * 64
    (tree / "requirements.lock").write_text(f"# header\n{pinned}\nrich\n")
    with pytest.raises(ImageConfigError, match=r"requirements.lock:4: 'rich' is not `name==version"):
        parse_lock(tree / "requirements.lock")


def test_missing_tree_files_say_where_to_look(tmp_path):
    with pytest.raises(ImageConfigError, match="Dockerfile, requirements.lock not found in .*--context DIR"):
        tree_hash(tmp_path)


@pytest.mark.docker
def test_two_builds_of_the_same_tree_give_the_same_image(docker_engine, repo_root):
    def build() -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-c", CLI, "image", "build", "--base", OFFLINE_BASE],
                              cwd=repo_root, capture_output=True, text=True, timeout=900)

    first, second = build(), build()
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert first.stdout.strip().startswith("sha256:") and first.stdout == second.stdout
    assert "build skipped" in second.stderr


@pytest.mark.docker
def test_a_failing_build_reports_the_step_output(docker_engine, tree):
    (tree / "Dockerfile").write_text("ARG BASE_IMAGE=scratch\nFROM ${BASE_IMAGE}\n"
                                     "RUN echo about to fail && false\n")
    wheel = tree / "wheelhouse" / "fake-1.0-py3-none-any.whl"  # a locked wheel on hand: no download
    wheel.parent.mkdir()
    wheel.write_bytes(b"not a real wheel")
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    (tree / "requirements.lock").write_text(f"fake==1.0 --hash=sha256:{digest}\n")
    done = subprocess.run([sys.executable, "-c", CLI, "image", "build", "--base", OFFLINE_BASE,
                           "--context", str(tree), "--wheelhouse", str(tree / "wheelhouse")],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 3 and done.stdout == ""
    assert "error: building tinytorch-harness:" in done.stderr
    assert "returned a non-zero code: 1" in done.stderr and "about to fail" in done.stderr
