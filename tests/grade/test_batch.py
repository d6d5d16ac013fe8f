"""``harness grade`` over a fake class of six submissions on the local backend."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from harness.cli import main
from harness.provenance import tree_hash
from harness.report.writer import read_report
from tests.grade import fakeclass
from tests.grade.fakeclass import EXPECTED, make_class, marker_lines
from tests.polling import wait_until

REPO = Path(__file__).resolve().parents[2]
ALL_PAIRS = {f"{s} {e}" for s in EXPECTED for e in ("grad_check", "conv_train")}



def gradebook(out: Path) -> dict[str, tuple[str, ...]]:
    with (out / "gradebook.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    names = [r["student"] for r in rows]
    assert len(names) == len(set(names)), f"duplicate rows in the gradebook: {names}"
    return {r["student"]: (r["conv_train"], r["grad_check"], r["total"], r["status"], r["failure_category"])
            for r in rows}


@pytest.fixture
def fake_class(tmp_path):
    return make_class(tmp_path / "class")


def test_batch_gradebook_is_exact_then_rerun_does_no_work_and_force_regrades(fake_class, tmp_path, capsys):
    out = tmp_path / "grades"
    assert main(fakeclass.grade_args(fake_class, out)) == 1  # some students fail: exit 1 as for `check`
    assert gradebook(out) == EXPECTED
    assert sorted(marker_lines(fake_class)) == sorted(ALL_PAIRS), "each job runs exactly once"
    with (out / "gradebook.csv").open(newline="") as handle:
        rows = {r["student"]: r for r in csv.DictReader(handle)}
    assert rows["correct"]["hash"] == tree_hash(fake_class["submissions"] / "correct" / "tinytorch")
    assert rows["timeout"]["failed_extras"] == "conv_train: timeout; grad_check: timeout"
    assert rows["correct"]["max_total"] == "12"
    report = read_report(out / "report.json")
    assert report.provenance.hidden_checks_included and report.provenance.profile == "quick"
    first_csv = (out / "gradebook.csv").read_text()
    progress = capsys.readouterr().out
    assert "0 results cached, 12 jobs to run" in progress and "[12/12]" in progress and "eta" in progress

    assert main(fakeclass.grade_args(fake_class, out)) == 1
    assert len(marker_lines(fake_class)) == 12, "a rerun must not execute any job"
    assert (out / "gradebook.csv").read_text() == first_csv
    assert "12 results cached, 0 jobs to run" in capsys.readouterr().out

    forced = fakeclass.grade_args(fake_class, out, "--force", "--extra", "grad_check", "-q")
    forced[1:2] = [str(fake_class["submissions"] / s) for s in ("correct", "hostile")]
    assert main(forced) == 1
    runs = Counter(marker_lines(fake_class))
    assert runs["correct grad_check"] == runs["hostile grad_check"] == 2
    assert sum(runs.values()) == 14, "--force reruns exactly the selected pairs"


def test_edited_submission_is_regraded_alone(fake_class, tmp_path):
    out = tmp_path / "grades"
    args = fakeclass.grade_args(fake_class, out, "-q")
    two = [str(fake_class["submissions"] / "correct"), str(fake_class["submissions"] / "wrong_gradient")]
    args[1:2] = two
    assert main(args) == 1
    assert gradebook_row(out, "wrong_gradient")["grad_check"] == "0"
    ops = fake_class["submissions"] / "wrong_gradient" / "tinytorch" / "core" / "ops.py"
    ops.write_text(ops.read_text().replace("[x for x in xs]", "[2 * x for x in xs]"))
    assert main(args) == 0
    runs = Counter(marker_lines(fake_class))
    assert runs["wrong_gradient grad_check"] == 2 and runs["wrong_gradient conv_train"] == 2
    assert runs["correct grad_check"] == 1 and runs["correct conv_train"] == 1
    assert gradebook_row(out, "wrong_gradient")["grad_check"] == "5"


def gradebook_row(out: Path, student: str) -> dict:
    with (out / "gradebook.csv").open(newline="") as handle:
        return next(r for r in csv.DictReader(handle) if r["student"] == student)


def _kill_orphans(marker_root: Path) -> None:
    """The local backend's jobs run in their own process groups: end the ones this test left."""
    needle = str(marker_root).encode()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if needle in (entry / "cmdline").read_bytes() or needle in (entry / "environ").read_bytes():
                    os.kill(int(entry.name), signal.SIGKILL)
            except (OSError, ProcessLookupError):
                continue


def harness_env(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """The environment of a `harness` subprocess with a fresh TMPDIR of its own, and that TMPDIR."""
    tmpdir = tmp_path / "harness-tmp"
    tmpdir.mkdir()
    return {**os.environ, "PYTHONPATH": str(REPO), "TMPDIR": str(tmpdir)}, tmpdir


def sandbox_dirs(tmpdir: Path, within: float = 0.0) -> list[str]:
    """The harness's work and /out dirs left in ``tmpdir``, waiting up to ``within`` seconds for none."""
    def left() -> list[str]:
        return sorted(path.name for path in tmpdir.glob("harness-*"))

    wait_until(lambda: not left(), within)
    return left()


def test_batch_killed_halfway_resumes_without_lost_or_duplicate_rows(fake_class, tmp_path):
    out = tmp_path / "grades"
    results = out / "cache" / "results"
    env, tmpdir = harness_env(tmp_path)
    command = [sys.executable, "-m", "harness.cli", *fakeclass.grade_args(fake_class, out, "-q")]
    command[command.index("--jobs") + 1] = "1"
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while len(list(results.glob("*/*.json"))) < 3:
            assert proc.poll() is None, f"grade ended before it could be killed: {proc.stderr.read()}"
            assert time.monotonic() < deadline, "no results were cached within 60 s"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
        _kill_orphans(fake_class["marker"].parent)
    finished = {f"{p.parent.name} {p.stem}" for p in results.glob("*/*.json")}
    assert 3 <= len(finished) < 12, "killed halfway: some but not all results are cached"
    assert not (out / "gradebook.csv").exists()
    assert sandbox_dirs(tmpdir, within=5) == [], "the watchdog removes the killed harness's dirs"

    rerun_args = fakeclass.grade_args(fake_class, out, "-q")
    rerun = subprocess.run([sys.executable, "-m", "harness.cli", *rerun_args], env=env, capture_output=True,
                           text=True, timeout=300)
    assert rerun.returncode == 1, rerun.stderr
    assert sandbox_dirs(tmpdir) == [], "a finished grade leaves no work or /out dir"
    assert gradebook(out) == EXPECTED
    runs = Counter(marker_lines(fake_class))
    assert set(runs) == ALL_PAIRS
    assert all(runs[pair] == 1 for pair in finished), "results finished before the kill are not rerun"


def test_ctrl_c_keeps_every_finished_result_and_says_how_to_resume(fake_class, tmp_path):
    out = tmp_path / "grades"
    results = out / "cache" / "results"
    students = ("correct", "frozen_conv", "hostile", "wrong_gradient")
    args = fakeclass.grade_args(fake_class, out, "-q")
    args[1:2] = [str(fake_class["submissions"] / s) for s in students]
    args[args.index("--jobs") + 1] = "1"
    env, tmpdir = harness_env(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 60
        while not list(results.glob("*/*.json")):
            assert proc.poll() is None and time.monotonic() < deadline, "grade ended before Ctrl-C"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        _kill_orphans(fake_class["marker"].parent)
    assert proc.returncode == 130 and "harness: interrupted" in stderr
    assert f"finished results are kept in {results}; run the same command again to resume" in stderr
    assert sandbox_dirs(tmpdir) == [], "Ctrl-C leaves no work or /out dir"
    ran_before = set(marker_lines(fake_class))
    cached = {f"{p.parent.name} {p.stem}" for p in results.glob("*/*.json")}
    stopped = ran_before - cached
    assert cached <= ran_before and len(stopped) <= 1, \
        "every job that finished before the interrupt has its result cached; only the running one is lost"
    assert len(ran_before) < 8, "queued jobs do not start after Ctrl-C"
    assert main(args) == 1
    runs = Counter(marker_lines(fake_class))
    assert len(runs) == 8, "the rerun runs everything that is missing"
    assert runs == Counter({pair: 1 + (pair in stopped) for pair in runs}), \
        "the rerun runs only what is missing (the stopped job again), once"
    assert gradebook(out) == {k: EXPECTED[k] for k in students}
