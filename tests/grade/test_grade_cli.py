"""``harness grade`` usage errors: exit 2 with what was wrong, where, and what to do."""

from __future__ import annotations

import csv
import json
import tarfile

from harness.cli import main
from tests.grade import fakeclass
from tests.grade.fakeclass import make_class, marker_lines


def test_missing_submission_is_exit_2_naming_the_path(tmp_path, capsys):
    paths = make_class(tmp_path / "class")
    args = fakeclass.grade_args(paths, tmp_path / "out")
    args[1] = str(tmp_path / "nobody")
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"harness grade: {tmp_path / 'nobody'}: no such file or directory" in err
    assert not marker_lines(paths), "nothing ran"


def test_unknown_extra_is_exit_2_with_a_suggestion(tmp_path, capsys):
    paths = make_class(tmp_path / "class")
    assert main(fakeclass.grade_args(paths, tmp_path / "out", "--extra", "grad_chek")) == 2
    assert "unknown extra 'grad_chek' (did you mean 'grad_check'?)" in capsys.readouterr().err


def test_a_refused_archive_is_that_students_not_gradable_row_and_the_others_are_graded(tmp_path, capsys):
    paths = make_class(tmp_path / "class")
    evil = paths["submissions"] / "eve.tar.gz"
    with tarfile.open(evil, "w:gz") as tar:
        tar.addfile(tarfile.TarInfo("../../escaped.py"))
    out = tmp_path / "out"
    args = fakeclass.grade_args(paths, out, "--extra", "grad_check")
    args[1:2] = [str(paths["submissions"] / "correct"), str(evil)]
    assert main(args) == 1, "a check failed (eve is not gradable): exit 1, not a usage error"
    reason = (f"{evil}: member '../../escaped.py' climbs out of the archive with '..'; refusing to extract "
              "(re-create the archive without '..' in paths)")
    assert f"harness grade: eve: not gradable: {reason}" in capsys.readouterr().err
    assert marker_lines(paths) == ["correct grad_check"], "everyone else is graded; eve runs nothing"
    assert not (tmp_path / "escaped.py").exists()
    with (out / "gradebook.csv").open(newline="") as handle:
        rows = {r["student"]: r for r in csv.DictReader(handle)}
    assert rows["correct"]["status"] == "passed" and rows["correct"]["total"] == "5"
    columns = ("grad_check", "total", "max_total", "status", "failed_extras", "hash")
    assert {k: rows["eve"][k] for k in columns} == {
        "grad_check": "0", "total": "0", "max_total": "5", "status": "not_gradable",
        "failed_extras": "grad_check: not_gradable", "hash": ""}
    [eve] = [s for s in json.loads((out / "report.json").read_text())["submissions"] if s["name"] == "eve"]
    assert eve["path"] == str(evil) and eve["extras"][0]["reason"] == reason
    assert reason in (out / "feedback" / "eve.md").read_text()
    gradescope = json.loads((out / "gradescope" / "eve" / "results.json").read_text())
    assert gradescope["score"] == 0 and reason in gradescope["tests"][0]["output"]


def test_local_backend_is_refused_without_saying_it_is_not_isolated(tmp_path, capsys):
    paths = make_class(tmp_path / "class")
    unconfined = [arg for arg in fakeclass.grade_args(paths, tmp_path / "out") if arg != fakeclass.UNCONFINED]
    assert main(unconfined) == 2
    err = capsys.readouterr().err
    assert "--backend local runs every submission's code as you" in err
    assert "add --i-know-local-is-not-isolated if you trust every submission" in err
    assert not marker_lines(paths) and not (tmp_path / "out").exists(), "nothing ran, nothing was written"


def test_unknown_format_is_exit_2(tmp_path, capsys):
    paths = make_class(tmp_path / "class")
    assert main(fakeclass.grade_args(paths, tmp_path / "out", "--format", "csv,pdf")) == 2
    assert "unknown --format pdf" in capsys.readouterr().err
