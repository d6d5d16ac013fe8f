#!/usr/bin/env python3
"""Check the extras against the course's API (docs/course-api.json) and fill the doc's "extras use" column.

A static walk over extras/*.py and extras/_harness/*.py (nothing is imported or run): which course
names the extras bind (``from tinytorch.X import Y``, ``course_name("key", "Y")``), which methods
and attributes they reach on them, and any keyword a course signature lacks. Imports inside an
``except ImportError:`` handler are fallbacks for older packages and are not checked.

Usage: python scripts/course_api.py            # list problems (exit 1 if any)
       python scripts/course_api.py --write    # rewrite the "extras use" column of docs/course-api.md
"""

from __future__ import annotations

import ast
import json
import re
import sys
from collections import defaultdict
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
API = REPO / "docs" / "course-api.json"
DOC = REPO / "docs" / "course-api.md"


def extra_sources() -> list[Path]:
    return sorted([*REPO.glob("extras/*.py"), *REPO.glob("extras/_harness/*.py")])


# Method names shared with numpy arrays and builtins: calls on them are not the student's.
NUMPY_NAMES = {"sum", "mean", "max", "min", "reshape", "transpose", "copy", "astype", "item", "get",
               "update", "reset", "append", "pop", "split", "join", "encode", "decode", "format"}


def _params(signature: str | None) -> set[str] | None:
    """Parameter names of ``(a, b=1, *args, **kw)``; None if there is no signature or it accepts **kw."""
    if not signature or not signature.startswith("("):
        return None
    try:
        fn = ast.parse(f"def f{signature}: pass").body[0]
    except SyntaxError:
        return None
    if fn.args.kwarg is not None:
        return None
    args = fn.args
    return {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}


def load_course(path: Path = API):
    """exports: module -> names; params: 'module.Name' or 'Name.method' -> keyword sets (per version)."""
    entries = json.loads(path.read_text())
    exports, params, methods = defaultdict(set), defaultdict(list), defaultdict(list)
    for entry in entries:
        for version in ("2025", "2026"):
            name, module = entry.get(f"name_{version}"), entry.get(f"module_{version}")
            sig = entry.get(f"sig_{version}")
            if not name or not module or not name.startswith(module + ".") or entry["kind"] == "patch":
                continue
            parts = name[len(module) + 1:].split(".")
            if len(parts) == 1:
                exports[module].add(parts[0])
                if entry["kind"] == "function":
                    params[f"{module}.{parts[0]}"].append(_params(sig))
            elif len(parts) == 2 and entry["kind"] == "method":
                cls, method = parts
                target = f"{module}.{cls}" if method == "__init__" else None
                if target:
                    params[target].append(_params(sig))
                methods[method].append(_params(sig))
    return exports, params, methods


def module_paths() -> dict[str, tuple[str, ...]]:
    tree = ast.parse((REPO / "extras" / "_harness" / "course.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "MODULE_PATHS":
            return ast.literal_eval(node.value)
    raise AssertionError("extras/_harness/course.py has no MODULE_PATHS")


def _exported(exports, paths, name: str) -> str | None:
    """The course module among ``paths`` that exports ``name``."""
    return next((path for path in paths if name in exports.get(path, ())), None)


def _fallback_lines(tree: ast.AST) -> set[int]:
    """Lines inside ``except ImportError`` (or ModuleNotFoundError) handlers."""
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ExceptHandler) and getattr(node.type, "id", "") in ("ImportError",
                                                                                  "ModuleNotFoundError"):
            for inner in node.body:
                lines.update(range(inner.lineno, (inner.end_lineno or inner.lineno) + 1))
    return lines


def _no_grad_home(tree: ast.AST) -> set[int]:
    """Lines of the one function allowed to import the package's no_grad: _harness.course.no_grad."""
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == "no_grad":
            return set(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    return set()


def bindings(tree: ast.AST, exports, paths) -> tuple[dict[str, str], list[str]]:
    """Local name -> 'module.Name' for course imports and course_name() results; problems found."""
    bound, problems = {}, []
    skipped, no_grad_home = _fallback_lines(tree), _no_grad_home(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tinytorch"):
            if node.lineno in skipped:
                continue
            for alias in node.names:
                if alias.name == "no_grad" and node.lineno in no_grad_home:
                    continue
                if alias.name == "no_grad":
                    problems.append(f"line {node.lineno}: imports no_grad (the course has none; use "
                                    "_harness.course.no_grad)")
                    continue
                candidates = [node.module] + [p for ps in paths.values() if node.module in ps for p in ps]
                where = _exported(exports, candidates, alias.name)
                if where is None:
                    problems.append(f"line {node.lineno}: {node.module}.{alias.name} is not exported by "
                                    "the course")
                else:
                    bound[alias.asname or alias.name] = f"{where}.{alias.name}"
        elif isinstance(node, ast.Call) and getattr(node.func, "id", "") == "course_name" \
                and len(node.args) == 2:
            key, name = (ast.literal_eval(a) for a in node.args)
            if _exported(exports, paths.get(key, ()), name) is None:
                problems.append(f"line {node.lineno}: no course {key} module exports {name}")
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            qualified = _course_result(node.value, exports, paths)
            for target in node.targets:
                if isinstance(target, ast.Name) and qualified:
                    bound[target.id] = qualified
    return bound, problems


def _course_result(call: ast.Call, exports, paths) -> str | None:
    """'module.Name' when ``call`` is ``course_name("key", "Name")`` or a helper returning one."""
    func = getattr(call.func, "id", "") or getattr(call.func, "attr", "")
    if func == "course_name" and len(call.args) == 2:
        key, name = (ast.literal_eval(a) for a in call.args)
    elif func in course_helpers():
        key, name = course_helpers()[func]
    else:
        return None
    where = _exported(exports, paths.get(key, ()), name)
    return f"{where}.{name}" if where else None


@cache
def course_helpers() -> dict[str, tuple[str, str]]:
    """Functions of extras/_harness that return ``course_name(key, name)``: name -> (key, name)."""
    helpers = {}
    for source in REPO.glob("extras/_harness/*.py"):
        for fn in ast.walk(ast.parse(source.read_text())):
            if not isinstance(fn, ast.FunctionDef):
                continue
            for ret in (n for n in ast.walk(fn) if isinstance(n, ast.Return)):
                call = ret.value
                if isinstance(call, ast.Call) and getattr(call.func, "id", "") == "course_name" \
                        and len(call.args) == 2:
                    helpers[fn.name] = tuple(ast.literal_eval(a) for a in call.args)
    return helpers


def keyword_problems(tree, bound, params, methods) -> list[str]:
    problems = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        keywords = {k.arg for k in node.keywords if k.arg}
        if isinstance(node.func, ast.Name) and node.func.id in bound:
            allowed = params.get(bound[node.func.id])
            label = bound[node.func.id]
        elif isinstance(node.func, ast.Attribute) and node.func.attr in methods \
                and node.func.attr not in NUMPY_NAMES:
            allowed, label = methods[node.func.attr], f".{node.func.attr}()"
        else:
            continue
        if not allowed or any(sig is None for sig in allowed):
            continue  # no signature known, or one takes **kwargs
        unknown = {k for k in keywords if not any(k in sig for sig in allowed)}
        if unknown:
            problems.append(f"line {node.lineno}: {label} has no course parameter {sorted(unknown)}")
    return problems



def problems_of(source: Path, course) -> list[str]:
    """Every departure from the course's API in one extra's source."""
    exports, params, methods = course
    tree = ast.parse(source.read_text(), filename=str(source))
    bound, problems = bindings(tree, exports, module_paths())
    return problems + keyword_problems(tree, bound, params, methods)


def used_names(course) -> dict[str, set[str]]:
    """Course entry name ('module.Class.member' or 'module.name') -> the extras that use it."""
    exports, _, _ = course
    users = defaultdict(set)
    for source in extra_sources():
        tree = ast.parse(source.read_text())
        bound, _ = bindings(tree, exports, module_paths())
        members = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
        label = source.relative_to(REPO / "extras").as_posix()
        for qualified in bound.values():
            users[qualified].add(label)
            for member in members | {"__init__", "__call__", "forward"}:
                users[f"{qualified}.{member}"].add(label)
    return users


def usage_column(course) -> dict[str, str]:
    """The "extras use" cell of each doc row, keyed by the row's name as written in the doc."""
    users = used_names(course)
    cells = {}
    for entry in json.loads(API.read_text()):
        found = set()
        for version in ("2025", "2026"):
            name, module = entry.get(f"name_{version}"), entry.get(f"module_{version}")
            if name and module and name.startswith(module + "."):
                found |= users.get(name, set())
        cells[entry["name"]] = ", ".join(sorted(found)) if found else "no"
    return cells


_ROW = re.compile(r"^\| `([^`]+)` \|(.*)\| ([^|]*) \|$")


def row_of(line: str) -> tuple[str, str] | None:
    """(name, extras-use cell) of a table row of docs/course-api.md, else None."""
    match = _ROW.match(line)
    return (match.group(1), match.group(3)) if match else None


def write_column(course) -> int:
    """Rewrite the last cell of every table row of docs/course-api.md; returns rows changed."""
    cells, changed, lines = usage_column(course), 0, []
    for line in DOC.read_text().splitlines():
        match = _ROW.match(line)
        if match and match.group(1) in cells and cells[match.group(1)] != match.group(3):
            line = f"| `{match.group(1)}` |{match.group(2)}| {cells[match.group(1)]} |"
            changed += 1
        lines.append(line)
    DOC.write_text("\n".join(lines) + "\n")
    return changed


def main(argv: list[str]) -> int:
    course = load_course()
    if argv == ["--write"]:
        print(f"{DOC}: {write_column(course)} rows changed")
        return 0
    found = {src: problems_of(src, course) for src in extra_sources()}
    for src, problems in found.items():
        for problem in problems:
            print(f"{src.relative_to(REPO)}: {problem}")
    return 1 if any(found.values()) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
