"""The GitHub workflows: actionlint-clean, and the student-PR one cannot be steered by the PR."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
LINT = REPO / "scripts" / "lint-workflows.sh"


def workflow(name: str) -> dict:
    doc = yaml.safe_load((REPO / ".github" / "workflows" / name).read_text())
    doc["on"] = doc.pop(True, doc.get("on"))  # YAML 1.1 reads the key `on` as True
    return doc


def lint(*files: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(LINT), *map(str, files)], capture_output=True, text=True, timeout=300)


def test_workflows_pass_actionlint_and_a_broken_one_does_not(tmp_path):
    clean = lint()
    assert clean.returncode == 0, clean.stdout + clean.stderr
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
                      "      - run: echo ${{ github.no_such_property }}\n")
    result = lint(broken)
    assert result.returncode == 1 and "no_such_property" in result.stdout and f"{broken}:6:" in result.stdout


def test_grade_pr_takes_grader_from_base_and_only_tinytorch_from_the_pr():
    doc = workflow("grade-pr.yml")
    assert list(doc["on"]) == ["pull_request_target"] and doc["permissions"] == {"contents": "read"}
    steps = doc["jobs"]["grade"]["steps"]
    checkouts = {s["with"]["path"]: s["with"] for s in steps
                 if s.get("uses", "").startswith("actions/checkout")}
    assert checkouts["grader"]["ref"] == "${{ github.event.pull_request.base.sha }}"
    pr = checkouts["submission"]
    assert pr["ref"] == "${{ github.event.pull_request.head.sha }}" and pr["sparse-checkout"] == "tinytorch"
    assert all(c["persist-credentials"] is False for c in checkouts.values())
    grade = next(s for s in steps if "harness check" in s.get("run", ""))
    assert grade["working-directory"] == "grader"
    assert '--tinytorch "$GITHUB_WORKSPACE/submission"' in grade["run"]
    assert "--all" in grade["run"] and "--backend docker" in grade["run"]
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact"))
    assert upload["if"] == "always()" and upload["with"]["path"] == "reports/"
    names = [s.get("name", "") for s in steps]
    assert names.index("Save the grading image") < names.index("Grade every extra"), \
        "caches are saved before any PR code runs"
    restore = next(s for s in steps if s.get("id") == "image-cache")
    assert "hashFiles('grader/Dockerfile', 'grader/requirements.lock')" in restore["with"]["key"]


def test_grade_pr_cannot_reach_the_graders_reference_through_a_link():
    steps = workflow("grade-pr.yml")["jobs"]["grade"]["steps"]
    grader = next(s["with"] for s in steps if s.get("with", {}).get("path") == "grader")
    assert grader["sparse-checkout-cone-mode"] is False
    assert grader["sparse-checkout"].split() == ["/*", "!/tinytorch/"], "no grader tinytorch/"
    names = [s.get("name", "") for s in steps]
    guard = steps[names.index("Refuse links in the PR's package and delete its bytecode")]
    assert "[ -L submission/tinytorch ]" in guard["run"]
    assert "find submission/tinytorch -type l" in guard["run"] and "exit 1" in guard["run"]
    assert "-name __pycache__ -prune -exec rm -rf {} +" in guard["run"]
    checkout = names.index("The pull request's tinytorch/ package (nothing else)")
    assert checkout < names.index("Refuse links in the PR's package and delete its bytecode") \
        < names.index("Install the harness (base branch)") < names.index("Grade every extra")


def test_grade_pr_link_guard_refuses_links_and_deletes_bytecode(tmp_path):
    steps = workflow("grade-pr.yml")["jobs"]["grade"]["steps"]
    guard = next(s["run"] for s in steps if s.get("name", "").startswith("Refuse links in the PR's package"))

    def run_guard(workspace: Path) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", "-e", "-c", guard], cwd=workspace, capture_output=True, text=True)

    cases = {"honest": None, "linked": "tinytorch", "inner": "tinytorch/core/data"}
    for case, link in cases.items():
        package = tmp_path / case / "submission" / "tinytorch"
        (package / "core" / "__pycache__").mkdir(parents=True)
        (package / "core" / "__pycache__" / "ops.cpython-311.pyc").write_bytes(b"bytecode")
        if link == "tinytorch":
            package.rename(tmp_path / case / "real")
            package.symlink_to(tmp_path / case / "real")
        elif link:
            (package.parent / link).symlink_to("/etc")
        result = run_guard(tmp_path / case)
        assert result.returncode == (0 if link is None else 1), (case, result.stdout, result.stderr)
        if link:
            assert "a tinytorch package never needs links" in result.stdout
    assert not list((tmp_path / "honest").rglob("__pycache__")), "bytecode is deleted before grading"


def test_ci_runs_the_project_entry_point():
    doc = workflow("ci.yml")
    assert doc["permissions"] == {"contents": "read"}
    runs = [s.get("run", "") for s in doc["jobs"]["test"]["steps"]]
    assert any("bash .ci/run" in r for r in runs)
