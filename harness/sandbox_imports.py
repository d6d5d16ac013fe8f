"""What a student's package may import in the sandbox, and which of its imports fall outside.

The sandbox has the standard library and the packages pinned in ``requirements.in`` (the course's
declared student environment, extended there by an instructor). A package that imports anything
else crashes in the sandbox with ``ModuleNotFoundError``; the host finds such imports statically
(``ast``, nothing is executed) so the report can name the file and line and say how to allow it.
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass
from pathlib import Path

REQUIREMENTS = Path(__file__).resolve().parents[1] / "requirements.in"
_PIN = re.compile(r"^\s*([A-Za-z0-9_.-]+)\s*==")
_PROVIDES = re.compile(r"#\s*provides:\s*(.+)$")
_MISSING = re.compile(r"ModuleNotFoundError: No module named '([^'.]+)")


@dataclass(frozen=True)
class ForeignImport:
    """An import of a module the sandbox does not provide, where it is written."""

    module: str
    path: str  # relative to the submission folder
    line: int


def provided_modules(requirements: Path = REQUIREMENTS) -> dict[str, str]:
    """Import name -> the pinned package that provides it, from requirements.in."""
    provided = {}
    for text in requirements.read_text(encoding="utf-8").splitlines():
        pin = _PIN.match(text)
        if not pin:
            continue
        names = _PROVIDES.search(text)
        default = pin.group(1).lower().replace("-", "_")
        for module in ([n.strip() for n in names.group(1).split(",")] if names else [default]):
            provided[module] = pin.group(1)
    return provided


def sandbox_packages(requirements: Path = REQUIREMENTS) -> list[str]:
    """The pinned packages, in file order, without duplicates."""
    return list(dict.fromkeys(provided_modules(requirements).values()))


def _imported_roots(tree: ast.AST) -> list[tuple[str, int]]:
    roots = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots += [(alias.name.split(".")[0], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.append((node.module.split(".")[0], node.lineno))
    return roots


def foreign_imports(submission_dir: Path, requirements: Path = REQUIREMENTS) -> list[ForeignImport]:
    """Every import in ``submission_dir/tinytorch`` of a module neither stdlib, tinytorch nor provided.

    Files that do not parse are skipped (the run reports a SyntaxError itself).
    """
    allowed = set(sys.stdlib_module_names) | set(provided_modules(requirements)) | {"tinytorch", "__future__"}
    found = []
    package = submission_dir / "tinytorch"
    for source in sorted(package.rglob("*.py")):
        try:
            tree = ast.parse(source.read_bytes(), filename=str(source))
        except (SyntaxError, ValueError, OSError):
            continue
        for module, line in _imported_roots(tree):
            if module not in allowed:
                found.append(ForeignImport(module, source.relative_to(submission_dir).as_posix(), line))
    return found


def explain_missing_module(stderr: str, submission_dir: Path,
                           requirements: Path = REQUIREMENTS) -> str | None:
    """A reason for a run that died of ``ModuleNotFoundError`` on a module the sandbox lacks, else None."""
    match = _MISSING.search(stderr)
    if not match or match.group(1) == "tinytorch":
        return None
    module = match.group(1)
    if module in provided_modules(requirements):
        return None
    where = [f"{imp.path}:{imp.line}" for imp in foreign_imports(submission_dir, requirements)
             if imp.module == module]
    located = f" ({', '.join(where[:3])})" if where else ""
    return (f"your package imports `{module}`{located}, which the grading sandbox does not provide: it has "
            f"the Python standard library and {', '.join(sandbox_packages(requirements))} (the course's "
            f"student environment). Use numpy instead, or ask your instructor to allow `{module}` "
            "(add it to requirements.in, then scripts/lock_sandbox.py and harness image build)")
