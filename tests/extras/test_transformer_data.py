"""The shipped TinyTalks and CodeBot data are exactly what their generators produce, and well formed."""

from __future__ import annotations

import ast
import importlib.util
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "extras" / "data"
GENERATORS = REPO / "scripts" / "datagen"  # outside extras/, so never mounted into the sandbox
ANSWER_KEY = REPO / "criteria" / "sample-secrets" / "references" / "tinytalks_test_answers.json"


def load_generator(name: str):
    spec = importlib.util.spec_from_file_location(f"{name}_generate", GENERATORS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_tinytalks_files_match_their_generator():
    generator = load_generator("tinytalks")
    built = generator.build()
    for split, rows in built.items():
        fields = ("category", "question") if split == "test" else ("category", "question", "answer")
        expected = [{k: row[k] for k in fields} for row in rows]
        assert read_jsonl(DATA / "tinytalks" / f"{split}.jsonl") == expected, split
    # the test answers live only in the host's answer key, byte for byte what the generator writes
    assert ANSWER_KEY.read_text(encoding="utf-8") == generator.answer_key_text(built["test"])
    assert json.loads(ANSWER_KEY.read_text(encoding="utf-8")) == [row["answer"] for row in built["test"]]


def test_tinytalks_test_answers_are_not_in_the_sandbox_data():
    """extras/ is mounted into the sandbox; criteria/sample-secrets/references/ is not."""
    rows = read_jsonl(DATA / "tinytalks" / "test.jsonl")
    assert all(set(row) == {"category", "question"} for row in rows)
    answers = json.loads(ANSWER_KEY.read_text(encoding="utf-8"))
    assert len(answers) == len(rows) == 42 and all(isinstance(a, str) and a for a in answers)


def test_tinytalks_held_out_questions_are_new_but_answerable():
    train = read_jsonl(DATA / "tinytalks" / "train.jsonl")
    seen_questions = {row["question"] for row in train}
    seen_answers = {row["answer"] for row in train}
    answers = json.loads(ANSWER_KEY.read_text(encoding="utf-8"))
    test = [dict(row, answer=answer)
            for row, answer in zip(read_jsonl(DATA / "tinytalks" / "test.jsonl"), answers, strict=True)]
    for rows in (read_jsonl(DATA / "tinytalks" / "val.jsonl"), test):
        assert len(rows) >= 40
        for row in rows:
            assert row["question"] not in seen_questions, row
            if row["category"] in ("colour", "opposite", "sound", "capital", "counting"):
                assert row["answer"] in seen_answers, row  # the fact itself was taught in another phrasing


@pytest.mark.parametrize("split", ["train", "val", "test"])
def test_codebot_files_match_their_generator_and_parse(split):
    built = load_generator("codebot").build()
    text = (DATA / "codebot" / f"{split}.txt").read_text(encoding="utf-8")
    assert text == "\n".join(built[split])
    ast.parse(text)


def test_codebot_splits_share_no_function():
    names = {}
    for split in ("train", "val", "test"):
        text = (DATA / "codebot" / f"{split}.txt").read_text(encoding="utf-8")
        names[split] = {node.name for node in ast.parse(text).body}
    assert not names["train"] & names["val"] and not names["train"] & names["test"]
    assert not names["val"] & names["test"]
    assert len(names["train"]) == 336 and len(names["val"]) == len(names["test"]) == 42
