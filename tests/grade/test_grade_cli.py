"""``harness grade`` usage errors: exit 2 with what was wrong, where, and what to do."""

from __future__ import annotations

import tarfile

from harness.cli import main
from tests.grade.fakeclass import grade_args, make_class, marker_lines


def test_missing_submission_is_exit_2_naming_the_path(tmp_path, capsys):
    paths = make_class(tmp_path / "class")
    args = grade_args(paths, tmp_path / "out")
    args[1] = str(tmp_path / "nobody")
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"harness grade: {tmp_path / 'nobody'}: no such file or directory" in err
    assert not marker_lines(paths), "nothing ran"


def test_unknown_extra_is_exit_2_with_a_suggestion(tmp_path, capsys):
    paths = make_class(tmp_path / "class")
    assert main(grade_args(paths, tmp_path / "out", "--extra", "grad_chek")) == 2
    assert "unknown extra 'grad_chek' (did you mean 'grad_check'?)" in capsys.readouterr().err


def test_hostile_archive_in_the_class_stops_the_batch_before_anything_runs(tmp_path, capsys):
    paths = make_class(tmp_path / "class")
    evil = paths["submissions"] / "eve.tar.gz"
    with tarfile.open(evil, "w:gz") as tar:
        info = tarfile.TarInfo("../../escaped.py")
        tar.addfile(info)
    assert main(grade_args(paths, tmp_path / "out")) == 2
    err = capsys.readouterr().err
    assert f"{evil}: member '../../escaped.py' climbs out of the archive" in err
    assert not marker_lines(paths) and not (tmp_path / "escaped.py").exists()


def test_unknown_format_is_exit_2(tmp_path, capsys):
    paths = make_class(tmp_path / "class")
    assert main(grade_args(paths, tmp_path / "out", "--format", "csv,pdf")) == 2
    assert "unknown --format pdf" in capsys.readouterr().err
