"""The result cache: exact-key hits, misses on any change, corrupt files, infra errors never cached."""

from __future__ import annotations

import dataclasses

from harness.criteria import load_all
from harness.result_cache import CacheKey, ResultCache, criterion_hash, is_cacheable
from tests.grade.fakeclass import make_class
from tests.grade.sample_report import sample_report

KEY = CacheKey("sha256:sub", "sha256:crit", "docker:sha256:img", "quick", 1337)


def test_store_then_load_round_trips_only_for_the_same_key(tmp_path):
    cache = ResultCache(tmp_path)
    extra = sample_report().submissions[1].extras[0]
    path = cache.store("bob", "mnist_mlp", KEY, extra)
    assert path == tmp_path / "bob" / "mnist_mlp.json"
    assert cache.load("bob", "mnist_mlp", KEY) == extra
    for field, other in (("code_hash", "sha256:edited"), ("criterion_hash", "sha256:new"),
                         ("backend", "docker:sha256:other"), ("profile", "full"), ("seed", 7)):
        assert cache.load("bob", "mnist_mlp", dataclasses.replace(KEY, **{field: other})) is None, field
    assert cache.load("alice", "mnist_mlp", KEY) is None
    assert [p.name for p in (tmp_path / "bob").iterdir()] == ["mnist_mlp.json"], "no temporary file left"


def test_corrupt_or_foreign_files_are_misses(tmp_path):
    cache = ResultCache(tmp_path)
    extra = sample_report().submissions[0].extras[0]
    path = cache.store("alice", "mnist_mlp", KEY, extra)
    renamed_field = path.read_text().replace('"score"', '"scor"')
    for text in ('{"format": 1, "key": {', "[]", '{"format": 99}', renamed_field):
        path.write_text(text)
        assert cache.load("alice", "mnist_mlp", KEY) is None


def test_infrastructure_failures_are_not_cacheable():
    extra = sample_report().submissions[0].extras[0]
    assert is_cacheable(extra)
    assert not is_cacheable(extra.model_copy(update={"run": extra.run.model_copy(
        update={"infra_error": "docker daemon went away"})}))
    assert not is_cacheable(extra.model_copy(update={"reason": "infrastructure error: datasets unavailable"}))


def test_criterion_hash_follows_the_yaml_the_script_and_the_helpers(tmp_path):
    paths = make_class(tmp_path / "class")

    def current() -> str:
        crit = load_all(paths["criteria"])["grad_check"]
        return criterion_hash(crit, paths["extras"], "0.1.0")

    first = current()
    assert current() == first and criterion_hash(load_all(paths["criteria"])["grad_check"],
                                                 paths["extras"], "0.2.0") != first
    script = paths["extras"] / "grad_check.py"
    script.write_text(script.read_text() + "\n# edited\n")
    second = current()
    assert second != first
    (paths["extras"] / "_harness").mkdir()
    (paths["extras"] / "_harness" / "metrics.py").write_text("x = 1\n")
    third = current()
    assert third != second
    yaml_file = paths["criteria"] / "grad_check.yaml"
    yaml_file.write_text(yaml_file.read_text().replace("points: 5", "points: 6"))
    assert current() != third
