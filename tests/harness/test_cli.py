"""The command line: exit codes 0/1/2/3, messages that say what, where and what to do."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from harness import backends
from harness.cli import main
from tests.harness.conftest import REPORT


class UnavailableRunner:
    """A backend that reports itself unusable, like docker without an engine."""

    name = "docker"

    def available(self):
        return False, "no Docker engine answered at unix:///var/run/docker.sock; start Docker"


@pytest.fixture
def cli(project, tmp_path):
    """Run ``harness ARGS`` against the fake project with the local backend."""
    project.add("good", REPORT + "report('score', 0.95)\n")
    project.add("bad", REPORT + "report('score', 0.5)\n")
    reports = tmp_path / "reports"

    def run(*args, backend="local"):
        locations = ["--criteria-dir", str(project.criteria), "--extras-dir", str(project.extras)]
        if args and args[0] == "check":
            locations += ["--backend", backend, "--tinytorch", str(project.submission),
                          "--report-dir", str(reports), "--quiet"]
        return main([*args, *locations])

    run.reports = reports
    return run


def test_all_passed_exits_0_and_writes_reports(cli, capsys):
    assert cli("check", "good") == 0
    assert capsys.readouterr().out.strip() == "student: passed 10/10"
    data = json.loads((cli.reports / "report.json").read_text())
    assert data["submissions"][0]["status"] == "passed" and data["provenance"]["backend"] == "local"
    assert ET.parse(cli.reports / "junit.xml").getroot().get("failures") == "0"
    assert (cli.reports / "summary.md").is_file()


def test_a_failed_check_exits_1(cli, capsys):
    assert cli("check", "--all") == 1
    assert capsys.readouterr().out.strip() == "student: failed 10/20"


def test_tinytorch_accepts_the_package_dir_itself(cli, project):
    assert main(["check", "good", "--backend", "local", "--quiet", "--tinytorch",
                 str(project.submission / "tinytorch"), "--criteria-dir", str(project.criteria),
                 "--extras-dir", str(project.extras), "--report-dir", str(cli.reports)]) == 0


@pytest.mark.parametrize(("args", "message"), [
    (("check",), "say which extras to check: NAME ... or --all"),
    (("check", "godo"), "unknown extra 'godo' (did you mean 'good'?)"),
    (("check", "good", "--format", "pdf"), "unknown --format pdf"),
    (("check", "good", "--jobs", "0"), "--jobs must be at least 1, got 0"),
])
def test_usage_errors_exit_2(cli, capsys, args, message):
    assert cli(*args) == 2
    assert message in capsys.readouterr().err


def test_not_a_submission_exits_2(cli, project, capsys, tmp_path):
    code = main(["check", "good", "--backend", "local", "--tinytorch", str(tmp_path / "nowhere"),
                 "--criteria-dir", str(project.criteria), "--extras-dir", str(project.extras)])
    assert code == 2
    assert "is not a tinytorch submission: expected" in capsys.readouterr().err


def test_invalid_criteria_exit_2_with_file_and_line(cli, project, capsys):
    path = project.criteria / "good.yaml"
    path.write_text(path.read_text().replace("points: 10", "pointz: 10"))
    assert cli("validate") == 2
    err = capsys.readouterr().err
    assert "good.yaml:" in err and "checks[0].pointz: unknown key 'pointz' (did you mean 'points'?)" in err
    assert cli("check", "good") == 2


def test_validate_reports_a_missing_script_with_its_line(cli, project, capsys):
    (project.extras / "bad.py").unlink()
    assert cli("validate") == 2
    assert "bad.yaml:3: script: bad.py not found in" in capsys.readouterr().err


def test_validate_ok_exits_0(cli, capsys):
    assert cli("validate") == 0
    assert capsys.readouterr().out.strip() == "ok: 2 criteria file(s) valid (bad, good)"


def test_list_exits_0_and_shows_each_extra(cli, capsys):
    assert cli("list") == 0
    out = capsys.readouterr().out
    assert "good" in out and "bad" in out


def test_unavailable_backend_exits_3_with_what_to_do(cli, capsys, monkeypatch):
    monkeypatch.setitem(backends.BACKENDS, "docker", lambda: UnavailableRunner)
    assert cli("check", "good", backend="docker") == 3
    err = capsys.readouterr().err
    assert "the docker backend is not available: no Docker engine answered" in err
    assert "use --backend local" in err


def test_missing_dataset_exits_3_with_the_fix(cli, project, capsys, monkeypatch):
    import harness.datasets as datasets

    def missing(name):
        raise datasets.DatasetMissingError(f"dataset {name!r} is not cached; run `harness data fetch {name}`")

    monkeypatch.setattr(datasets, "sandbox_view", missing)
    path = project.criteria / "good.yaml"
    path.write_text(path.read_text().replace("checks:", "datasets: [mnist]\nchecks:"))
    assert cli("check", "good") == 3
    assert "run `harness data fetch mnist`" in capsys.readouterr().err


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    assert "usage: harness" in capsys.readouterr().err
