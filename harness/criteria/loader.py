"""Loading criteria files: YAML with every path's line number, so an error reads
``criteria/x.yaml:12: checks[0].rule: expected one of min|max|range|equals|allclose``."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from harness.criteria.schema import (
    Check,
    CriteriaError,
    Criterion,
    _Strict,
    display_path,
    line_for,
    loc_text,
)

# --- loading with line numbers -------------------------------------------------------------

def _construct(node: yaml.Node, path: tuple, ctx: _LoadContext) -> Any:
    """Build Python data from a composed YAML node, recording each path's 1-based line."""
    ctx.lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result = {}
        for key_node, value_node in node.value:
            key = ctx.loader.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int)):
                ctx.problem(key_node, path, "keys must be plain names")
                continue
            if key in result:
                ctx.problem(key_node, path + (key,), "duplicate key (remove one)")
            result[key] = _construct(value_node, path + (key,), ctx)
            ctx.lines[path + (key,)] = key_node.start_mark.line + 1
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_construct(item, path + (i,), ctx) for i, item in enumerate(node.value)]
    return ctx.loader.construct_object(node, deep=True)


class _LoadContext:
    """Per-file state of the loader: the constructor, the line map and the problems found."""

    def __init__(self, where: str):
        self.where = where
        self.loader = yaml.SafeLoader("")
        self.lines: dict[tuple, int] = {}
        self.problems: list[str] = []

    def problem(self, node: yaml.Node, loc: tuple, message: str) -> None:
        self.problems.append(f"{self.where}:{node.start_mark.line + 1}: {loc_text(loc)}: {message}")


def _clean_loc(error: dict) -> tuple:
    """Drop pydantic's union/literal tags from a location; add the unknown key itself."""
    tags = [p for p in error["loc"] if isinstance(p, str) and ("[" in p or p.startswith("function"))]
    loc = tuple(p for p in error["loc"] if p not in tags)
    return loc


def _message(error: dict, loc: tuple) -> str:
    if error["type"] == "extra_forbidden":
        key = str(loc[-1])
        known = {name for model in _Strict.__subclasses__() for name in model.model_fields}
        hint = difflib.get_close_matches(key, sorted(known), n=1)
        return f"unknown key {key!r}" + (f" (did you mean {hint[0]!r}?)" if hint else " (remove it)")
    if error["type"] == "string_pattern_mismatch":
        field = next((p for p in reversed(loc) if isinstance(p, str)), "")
        return f"{error['input']!r} is not valid here: expected {_PATTERN_HELP.get(field, 'another form')}"
    return error["msg"].removeprefix("Value error, ")


_IDENT_HELP = "lower-case letters, digits and _"
_PATTERN_HELP = {
    "id": _IDENT_HELP, "name": _IDENT_HELP, "datasets": _IDENT_HELP,
    "requires": "dotted module names like tinytorch.core.layers (alternatives joined by |)",
    "script": "a file name in extras/ ending in .py (no directories)",
    "artifact": "a plain file name such as predictions.npy (no directories)",
    "labels": "dataset:split, e.g. mnist:test",
    "reference": "a plain .json file name in the secrets' references/, e.g. tinytalks_test_answers.json",
}


def load_criterion(path: Path, display: str | None = None) -> Criterion:
    """Parse and validate one criteria file; raise CriteriaError with ``file:line: field: message``."""
    where = display or str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except OSError as exc:
        raise CriteriaError([f"{where}: cannot read: {exc.strerror}"]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise CriteriaError([f"{where}{line}: not valid YAML: {getattr(exc, 'problem', exc)}"]) from None
    if node is None:
        raise CriteriaError([f"{where}:1: file is empty; expected a mapping with id, title, script, ..."])
    ctx = _LoadContext(where)
    data = _construct(node, (), ctx)
    lines, problems = ctx.lines, ctx.problems
    if not isinstance(data, dict):
        raise CriteriaError([f"{where}:1: expected a mapping at the top level, got {type(data).__name__}"])
    try:
        criterion = Criterion.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            loc = _clean_loc(error)
            problems.append(f"{where}:{line_for(loc, lines)}: {loc_text(loc)}: {_message(error, loc)}")
        raise CriteriaError(_dedupe(problems)) from None
    if criterion.id != Path(path).stem:
        problems.append(f"{where}:{lines.get(('id',), 1)}: id: {criterion.id!r} must equal the file name "
                        f"stem {Path(path).stem!r} (rename the file or the id)")
    if problems:
        raise CriteriaError(problems)
    criterion = _with_secret_thresholds(criterion)
    criterion._source = Path(path)
    criterion._lines = lines
    return criterion


def _with_secret_thresholds(criterion: Criterion) -> Criterion:
    """The criterion with the instructor's ``thresholds.yaml`` overrides (rule, profile_rules,
    partial) applied to its checks; the public file keeps the sample values."""
    from harness.evidence.secrets import SecretsError, active_secrets

    try:
        secrets = active_secrets()
        overrides = secrets.thresholds().get(criterion.id)
    except SecretsError as exc:
        raise CriteriaError([str(exc)]) from None
    if not overrides:
        return criterion
    where = f"{secrets.root / 'thresholds.yaml'}: {criterion.id}"
    by_name = {c.name: c for c in criterion.checks}
    problems, checks = [], dict(by_name)
    for name, spec in overrides.items():
        if name not in by_name:
            problems.append(f"{where}: no check named {name!r} (checks: {', '.join(by_name)})")
            continue
        if not isinstance(spec, dict) or set(spec) - {"rule", "profile_rules", "partial"}:
            problems.append(f"{where}.{name}: only rule, profile_rules and partial can be overridden")
            continue
        try:
            checks[name] = Check.model_validate({**by_name[name].model_dump(exclude_none=True), **spec})
        except ValidationError as exc:
            problems += [f"{where}.{name}: {loc_text(_clean_loc(e))}: {e['msg']}" for e in exc.errors()]
    if problems:
        raise CriteriaError(problems)
    return criterion.model_copy(update={"checks": [checks[c.name] for c in criterion.checks]})


def _dedupe(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def load_all(criteria_dir: Path, files: list[Path] | None = None) -> dict[str, Criterion]:
    """Load every ``*.yaml`` (or just ``files``); collect all problems before raising."""
    criteria_dir = Path(criteria_dir)
    paths = sorted(files) if files else sorted(criteria_dir.glob("*.yaml"))
    loaded: dict[str, Criterion] = {}
    problems: list[str] = []
    for path in paths:
        display = display_path(path)
        try:
            criterion = load_criterion(path, display)
        except CriteriaError as exc:
            problems.extend(exc.problems)
            continue
        loaded[criterion.id] = criterion
    if problems:
        raise CriteriaError(problems)
    return loaded


