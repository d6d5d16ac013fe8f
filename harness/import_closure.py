"""Which files of a submission's package one extra can run, found statically (nothing is imported).

An extra may import its criterion's ``requires`` modules (``a|b``: every alternative the package
has). Importing a module runs its parent packages' ``__init__.py`` and, in turn, every module those
files import: ``import tinytorch.x.y``, ``from tinytorch.x import y`` (``y`` a submodule or a name),
relative imports (``from .layers import Linear``, ``from ..core import tensor``) and ``import *``
(which can import a package's submodules). That closure, read with ``ast`` on the host, is what
the extra's result can depend on; ``harness.grade`` keys the result cache by its hash, so editing a
module reruns only the extras that can import it.

The closure cannot be trusted, and the answer is ``None`` ("the whole package"), when:
- a file of the closure imports dynamically: ``importlib``/``pkgutil``/``runpy``/``builtins``,
  ``__import__``, ``exec``, ``eval``, ``compile``, ``__builtins__``, ``__path__``, or reaches into
  ``sys.modules``/``sys.path``/``sys.meta_path``;
- a file of the closure does not parse (the run will say why; one edit may change everything);
- the package holds anything but ``.py`` files and folders (data files a module could read at
  runtime, extension modules, links), bytecode and caches aside;
- ``requires`` is empty (the criterion does not say what its extra imports).
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterable
from pathlib import Path

from harness.provenance import IGNORED_DIRS, combined_hash, file_hash, tree_hash

# Modules whose import alone means the file may import by name at runtime.
_DYNAMIC_MODULES = {"importlib", "pkgutil", "runpy", "imp", "zipimport", "builtins"}
# Names that import or run code given as a string, or edit where imports come from.
_DYNAMIC_NAMES = {"__import__", "exec", "eval", "compile", "execfile", "__builtins__", "__path__"}
_DYNAMIC_STRINGS = {"__import__", "import_module", "__builtins__"}
_SYS_IMPORT_STATE = {"modules", "path", "meta_path", "path_hooks", "path_importer_cache"}
_BYTECODE = (".pyc", ".pyo")


class _Untrusted(Exception):
    """The closure cannot be trusted: the whole package counts."""


class PackageImports:
    """The static import graph of one package folder (``.../tinytorch``), read lazily, each file once.

    ``closure(requires)`` and ``hash(requires)`` may be asked for many criteria: files are parsed and
    hashed at most once per instance."""

    def __init__(self, package: Path):
        self.package = Path(package)
        self.name = self.package.name  # the top-level module name: "tinytorch"
        self._only_python: bool | None = None
        self._imports: dict[str, frozenset[str]] = {}  # relative path -> module names it may import
        self._hashes: dict[str, str] = {}
        self._tree_hash: str | None = None

    # --- the closure ---------------------------------------------------------------------------

    def closure(self, requires: Iterable[str]) -> frozenset[str] | None:
        """Relative paths (``core/tensor.py``) of every file importing ``requires`` can run, or None
        for "the whole package" (see the module's docstring for when)."""
        wanted = [alt for entry in requires for alt in entry.split("|")]
        if not wanted or not self.only_python():
            return None
        files: set[str] = set()
        seen: set[str] = set()
        queue = [m for m in wanted if self._inside(m)] + [self.name]
        try:
            while queue:
                module = queue.pop()
                if module in seen:
                    continue
                seen.add(module)
                for path in self._files_of(module):
                    if path not in files:
                        files.add(path)
                        queue.extend(self._imports_of(path))
        except _Untrusted:
            return None
        return frozenset(files)

    def hash(self, requires: Iterable[str]) -> str:
        """The hash of the closure's files (paths and contents, as ``tree_hash`` counts them), or the
        whole package's ``tree_hash`` when the closure cannot be trusted."""
        files = self.closure(requires)
        if files is None:
            if self._tree_hash is None:
                self._tree_hash = tree_hash(self.package)
            return self._tree_hash
        for path in files:
            if path not in self._hashes:
                self._hashes[path] = file_hash(self.package / path)
        return combined_hash({path: self._hashes[path] for path in files})

    def only_python(self) -> bool:
        """Whether the package holds nothing but ``.py`` files and folders (bytecode and caches aside)."""
        if self._only_python is None:
            self._only_python = _only_python(self.package)
        return self._only_python

    # --- modules and files ---------------------------------------------------------------------

    def _inside(self, module: str) -> bool:
        return module == self.name or module.startswith(self.name + ".")

    def _files_of(self, module: str) -> list[str]:
        """The files importing ``module`` runs that exist: each parent package's ``__init__.py``, then
        ``x.py`` and ``x/__init__.py`` (both when both exist: which one wins is not this module's call)."""
        parts = module.split(".")[1:]
        found = []
        for depth in range(len(parts)):
            init = "/".join(parts[:depth] + ["__init__.py"])
            if (self.package / init).is_file():
                found.append(init)
        if parts:
            for candidate in ("/".join(parts) + ".py", "/".join(parts + ["__init__.py"])):
                if (self.package / candidate).is_file():
                    found.append(candidate)
        elif (self.package / "__init__.py").is_file():
            found.append("__init__.py")
        return found

    def _imports_of(self, path: str) -> frozenset[str]:
        """Module names of this package that file ``path`` may import; raises _Untrusted."""
        if path not in self._imports:
            self._imports[path] = self._read(path)
        return self._imports[path]

    def _read(self, path: str) -> frozenset[str]:
        try:
            tree = ast.parse((self.package / path).read_bytes(), filename=path)
        except (SyntaxError, ValueError, OSError) as exc:
            raise _Untrusted(f"{path} does not parse: {exc}") from None
        parts = [self.name] + path.removesuffix(".py").split("/")
        package = parts[:-1]  # the package relative imports start from (x/__init__.py: x itself)
        sys_names = {"sys"}
        found: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] in _DYNAMIC_MODULES:
                        raise _Untrusted(f"{path} imports {alias.name}")
                    if alias.name == "sys":
                        sys_names.add(alias.asname or "sys")
                    if self._inside(alias.name):
                        found.add(alias.name)
            elif isinstance(node, ast.ImportFrom):
                found.update(self._from_import(node, package, path))
            elif isinstance(node, ast.Name) and node.id in _DYNAMIC_NAMES:
                raise _Untrusted(f"{path}:{node.lineno} uses {node.id}")
            elif (isinstance(node, ast.Attribute) and node.attr in _SYS_IMPORT_STATE
                  and isinstance(node.value, ast.Name) and node.value.id in sys_names):
                raise _Untrusted(f"{path}:{node.lineno} uses sys.{node.attr}")
            elif isinstance(node, ast.Constant) and node.value in _DYNAMIC_STRINGS:
                raise _Untrusted(f"{path}:{node.lineno} names {node.value}")
        return frozenset(found)

    def _from_import(self, node: ast.ImportFrom, package: list[str], path: str) -> set[str]:
        if node.level:
            if node.level > len(package):
                return set()  # beyond the top-level package: an ImportError when it runs
            base = package[:len(package) - node.level + 1] + (node.module.split(".") if node.module else [])
            module = ".".join(base)
        else:
            module = node.module or ""
            top = module.split(".")[0]
            if top in _DYNAMIC_MODULES:
                raise _Untrusted(f"{path} imports from {module}")
            if top == "sys" and any(a.name in _SYS_IMPORT_STATE or a.name == "*" for a in node.names):
                raise _Untrusted(f"{path} imports sys's import state")
        if not self._inside(module):
            return set()
        found = {module}
        for alias in node.names:
            if alias.name == "*":  # ``__all__`` may name submodules: count them all
                found.update(self._submodules(module))
            else:
                found.add(f"{module}.{alias.name}")  # a submodule, or a name (then no file)
        return found

    def _submodules(self, module: str) -> set[str]:
        folder = self.package.joinpath(*module.split(".")[1:])
        if not folder.is_dir():
            return set()
        names = set()
        for entry in folder.iterdir():
            if entry.name.endswith(".py") and entry.name != "__init__.py":
                names.add(f"{module}.{entry.name[:-3]}")
            elif entry.is_dir() and entry.name not in IGNORED_DIRS:
                names.add(f"{module}.{entry.name}")
        return names


def _only_python(package: Path) -> bool:
    for directory, dirnames, filenames in os.walk(package):
        dirnames[:] = [d for d in dirnames if d not in IGNORED_DIRS]
        for name in dirnames:
            if (Path(directory) / name).is_symlink():
                return False
        for name in filenames:
            if name.endswith(_BYTECODE):
                continue
            path = Path(directory) / name
            if not name.endswith(".py") or path.is_symlink() or not path.is_file():
                return False
    return True


def closure(package: Path, requires: Iterable[str]) -> frozenset[str] | None:
    """Relative paths of the files of ``package`` (the ``tinytorch/`` folder) that importing
    ``requires`` can run, or None meaning the whole package."""
    return PackageImports(package).closure(requires)


def closure_hash(package: Path, requires: Iterable[str]) -> str:
    """The hash of ``closure(package, requires)``, or the package's ``tree_hash`` when it is None."""
    return PackageImports(package).hash(requires)
