"""Host scorers for answer keys: exact_match (TinyTalks), parse_rate (CodeBot); hostile artifacts."""

from __future__ import annotations

import json

import numpy as np
import pytest

from harness.criteria import CriteriaError, load_criterion
from harness.judging.scorers import ArtifactProblem, ScoringUnavailable, score_artifact
from tests.extras.conftest import REPO


@pytest.fixture
def out(tmp_path):
    directory = tmp_path / "out"
    directory.mkdir()
    return directory


@pytest.fixture
def reference(tmp_path):
    path = tmp_path / "answers.json"
    path.write_text(json.dumps(["three.", "hello zoe, nice to meet you.", "cats."]), encoding="utf-8")
    return path


def save(directory, name, array):
    with open(directory / name, "wb") as handle:
        np.save(handle, array, allow_pickle=False)


def exact(out, reference, name="answers.npy"):
    return score_artifact("exact_match", out, name, reference=reference)


def test_exact_match_ignores_case_and_whitespace_only(out, reference):
    save(out, "answers.npy", np.array(["Three. ", "hello  zoe,\tnice to meet you.", "cat."]))
    assert exact(out, reference) == pytest.approx(2 / 3)  # "cat." != "cats."


def test_exact_match_reads_a_json_list_too(out, reference):
    (out / "answers.json").write_text(json.dumps(["three.", "no", "cats."]), encoding="utf-8")
    assert exact(out, reference, "answers.json") == pytest.approx(2 / 3)


@pytest.mark.parametrize("array, reason", [
    (np.array([1, 2, 3]), "answers have dtype int64, expected a unicode string array"),
    (np.array([b"three.", b"a", b"b"]), "answers have dtype |S28, expected a unicode string array"),
    (np.array([["three."], ["a"], ["b"]]), "answers have shape (3, 1), expected one string per entry (1-D)"),
    (np.array(["three.", "a"]), "answers have 2 entries, expected 3"),
    (np.array([], dtype=str), "answers: the list is empty"),
])
def test_exact_match_rejects_malformed_answers(out, reference, array, reason):
    save(out, "answers.npy", array)
    with pytest.raises(ArtifactProblem) as excinfo:
        exact(out, reference)
    assert str(excinfo.value) == reason.replace("|S28", str(array.dtype))


def test_object_arrays_are_never_unpickled(out, reference):
    with open(out / "answers.npy", "wb") as handle:
        np.save(handle, np.array(["three.", {"x": 1}, None], dtype=object), allow_pickle=True)
    with pytest.raises(ArtifactProblem, match="not a valid .npy array without pickle"):
        exact(out, reference)


def test_huge_artifacts_are_refused_unread(out, reference):
    save(out, "answers.npy", np.array(["x" * 200_000] * 100))  # 80 MB of UTF-32
    with pytest.raises(ArtifactProblem, match="over the 64.0 MiB cap; not read"):
        exact(out, reference)


def test_missing_reference_is_the_hosts_problem(out, tmp_path):
    save(out, "answers.npy", np.array(["a"]))
    with pytest.raises(ScoringUnavailable, match="is not available on the host"):
        exact(out, tmp_path / "nope.json")


def parse_rate(out, programs=None, raw: bytes | None = None):
    path = out / "programs.json"
    path.write_bytes(raw if raw is not None else json.dumps(programs).encode())
    return score_artifact("parse_rate", out, "programs.json")


def test_parse_rate_parses_without_running(out, tmp_path):
    marker = tmp_path / "ran"
    programs = ["def f(x):\n    return x + 1\n",
                f"open({str(marker)!r}, 'w').write('x')\n",  # valid Python: parsed, never executed
                "def g(:\n", "x = (" * 10 + "\n", "a = '\x00'\n"]
    assert parse_rate(out, programs) == pytest.approx(2 / 5)
    assert not marker.exists()


def test_parse_rate_survives_pathological_nesting(out):
    """Deep nesting makes the parser give up (SyntaxError/RecursionError): not parsed, no crash."""
    assert parse_rate(out, ["(" * 50_000 + ")" * 50_000, "-" * 90_000 + "1", "[" * 40_000, "x = 1"]) <= 0.5


@pytest.mark.parametrize("raw, reason", [
    (b"\xff\xfe[\"a\"]", "programs.json is not UTF-8 text (byte 0)"),
    (b"[\"def f():\\n    return 1\\n\", NaN]", "programs.json contains NaN, which is not JSON"),
    (b"[\"a\", ", "programs.json is not valid JSON (Expecting value at line 1)"),
    (b"[" * 100_000 + b"]" * 100_000, "programs.json is nested too deeply"),
    (b"{\"programs\": []}", "programs are dict, expected a list of strings"),
    (b"[\"x = 1\", 3]", "programs: entry 1 is int, expected a string"),
    (b"[]", "programs: the list is empty"),
])
def test_parse_rate_rejects_malformed_json(out, raw, reason):
    with pytest.raises(ArtifactProblem) as excinfo:
        parse_rate(out, raw=raw)
    assert str(excinfo.value) == reason


def test_parse_rate_caps_program_size_and_count(out):
    with pytest.raises(ArtifactProblem, match="program 1 has 100001 characters, more than the 100000"):
        parse_rate(out, ["x = 1", "#" * 100_001])
    with pytest.raises(ArtifactProblem, match="10001 entries, more than the 10000 allowed"):
        parse_rate(out, ["x = 1"] * 10_001)


def test_parse_rate_of_a_npy_artifact(out):
    save(out, "programs.npy", np.array(["x = 1\n", "def f(:\n"]))
    assert score_artifact("parse_rate", out, "programs.npy") == 0.5


def write_criterion(tmp_path, check: str):
    path = tmp_path / "x.yaml"
    path.write_text(f"""id: x
title: t
script: x.py
milestone: m
profiles:
  full: {{expected_seconds: 1, budget: {{wall_seconds: 10, memory_mib: 100}}}}
  quick: {{expected_seconds: 1, budget: {{wall_seconds: 10, memory_mib: 100}}}}
checks:
  - name: c
    metric: m
    source: self-reported
    trust: self-reported
    rule: {{min: 0.5}}
{check}""", encoding="utf-8")
    return path


@pytest.mark.parametrize("check, error", [
    ("    scorer: accuracy\n    artifact: p.npy\n", "x.yaml:9: checks[0]: an artifact check needs labels"),
    ("    scorer: exact_match\n    artifact: p.npy\n",
     "x.yaml:9: checks[0]: an artifact check needs reference"),
    ("    scorer: parse_rate\n    artifact: p.json\n    labels: mnist:test\n",
     "x.yaml:9: checks[0]: scorer parse_rate compares with nothing; remove labels"),
    ("    scorer: accuracy\n    artifact: p.npy\n    labels: mnist:test\n    reference: a.json\n",
     "x.yaml:9: checks[0]: scorer accuracy compares with held-out labels; remove reference"),
])
def test_criteria_ask_for_exactly_what_the_scorer_compares_with(tmp_path, check, error):
    with pytest.raises(CriteriaError) as excinfo:
        load_criterion(write_criterion(tmp_path, check), "x.yaml")
    assert excinfo.value.problems == [error]


def test_parse_rate_needs_no_labels(tmp_path):
    criterion = load_criterion(write_criterion(tmp_path, "    scorer: parse_rate\n    artifact: p.json\n"))
    assert criterion.checks[0].labels is None and criterion.checks[0].reference is None


def test_the_answer_key_lives_with_the_secrets_and_is_scored_on_the_host():
    tinytalks = {c.name: c for c in load_criterion(REPO / "criteria" / "tinytalks.yaml").checks}
    assert tinytalks["exact_answers"].source == "host"  # decoded by the host from the weights
    assert (REPO / "criteria" / "sample-secrets" / "references" / "tinytalks_test_answers.json").is_file()
    assert not (REPO / "extras" / "data" / "tinytalks" / "tinytalks_test_answers.json").exists()


def test_a_changed_answer_key_changes_the_criterion_hash(tmp_path, monkeypatch):
    from harness.provenance import criterion_file_hash, file_hash

    secrets = tmp_path / "secrets"
    (secrets / "references").mkdir(parents=True)
    (secrets / "probe-key").write_text("ab" * 32)
    monkeypatch.setenv("HARNESS_SECRETS", str(secrets))
    key = secrets / "references" / "a.json"
    key.write_text('["x"]', encoding="utf-8")
    path = write_criterion(tmp_path, "    scorer: exact_match\n    artifact: p.npy\n    reference: a.json\n")
    criterion = load_criterion(path)
    first = criterion_file_hash(criterion)
    assert first != file_hash(path)
    key.write_text('["y"]', encoding="utf-8")
    assert criterion_file_hash(criterion) != first
