"""The cache key's code hash covers the files an extra can import: the static import closure of its
criterion's ``requires`` (``harness.import_closure``), or the whole package when that cannot be trusted.

Also: every real extra imports only modules its criterion's ``requires`` covers (or the closure
would miss them), and a regrade after editing one module reruns exactly the extras that can reach it.
"""

from __future__ import annotations

import ast
import json
import textwrap
from pathlib import Path

import pytest
import yaml

from harness.criteria import load_all
from harness.executors import ThreadPool
from harness.import_closure import PackageImports, closure, closure_hash
from harness.pipeline import Pipeline
from harness.provenance import combined_hash, file_hash, tree_hash
from harness.result_cache import CACHE_FORMAT, CacheKey, ResultCache
from harness.runners.local import LocalRunner
from harness.submissions import resolve_submissions
from tests.grade.fakeclass import _METRICS, TRUSTED, _budget
from tests.grade.sample_report import sample_report

REPO = Path(__file__).resolve().parents[2]
BASE = {"__init__.py": "", "core/__init__.py": "", "core/tensor.py": "class Tensor: pass\n"}


def package(root: Path, files: dict[str, str]) -> Path:
    """Write ``tinytorch/`` under ``root`` with ``files`` (relative path -> source)."""
    pkg = root / "tinytorch"
    for name, text in files.items():
        (pkg / name).parent.mkdir(parents=True, exist_ok=True)
        (pkg / name).write_text(textwrap.dedent(text))
    return pkg


def closure_of(tmp_path: Path, files: dict[str, str], *requires: str) -> set[str] | None:
    found = closure(package(tmp_path, files), list(requires))
    return None if found is None else set(found)


# --- the closure of hand-written packages ---------------------------------------------------------

def test_absolute_imports_and_every_parent_init(tmp_path):
    files = {**BASE,
             "core/layers.py": "import tinytorch.core.tensor\nfrom tinytorch.core.tensor import Tensor\n",
             "perf/__init__.py": "from tinytorch.perf import helpers\n",
             "perf/helpers.py": "X = 1\n",
             "perf/quantization.py": "from tinytorch.core.layers import Tensor\n",
             "perf/profiling.py": "import tinytorch.core.tensor\n",
             "text/__init__.py": "", "text/tokens.py": ""}
    assert closure_of(tmp_path / "a", files, "tinytorch.core.layers") == {
        "__init__.py", "core/__init__.py", "core/layers.py", "core/tensor.py"}
    assert closure_of(tmp_path / "b", files, "tinytorch.perf.quantization") == {
        "__init__.py", "core/__init__.py", "core/layers.py", "core/tensor.py",
        "perf/__init__.py", "perf/helpers.py", "perf/quantization.py"}


def test_the_root_init_runs_first_and_what_it_imports_counts(tmp_path):
    files = {**BASE, "__init__.py": "from .core.tensor import Tensor\nfrom .perf import quantization\n",
             "perf/__init__.py": "", "perf/quantization.py": "", "perf/profiling.py": ""}
    assert closure_of(tmp_path, files, "tinytorch.core.tensor") == {
        "__init__.py", "core/__init__.py", "core/tensor.py", "perf/__init__.py", "perf/quantization.py"}


def test_relative_imports_one_and_two_levels_up_and_from_package_import_submodule(tmp_path):
    files = {**BASE,
             "core/layers.py": "from .tensor import Tensor\n",
             "core/losses.py": "from . import layers\n",
             "perf/__init__.py": "",
             "perf/quantization.py": "from ..core import losses\n",
             "perf/unused.py": "from ..core import tensor\n"}
    assert closure_of(tmp_path, files, "tinytorch.perf.quantization") == {
        "__init__.py", "core/__init__.py", "core/layers.py", "core/losses.py", "core/tensor.py",
        "perf/__init__.py", "perf/quantization.py"}


def test_from_package_import_submodule_absolute_and_relative_from_an_init(tmp_path):
    files = {**BASE, "core/__init__.py": "from . import layers\n", "core/layers.py": "",
             "core/spatial.py": "", "models/__init__.py": "",
             "models/gpt.py": "from tinytorch.core import spatial\n"}
    assert closure_of(tmp_path, files, "tinytorch.models.gpt") == {
        "__init__.py", "core/__init__.py", "core/layers.py", "core/spatial.py", "models/__init__.py",
        "models/gpt.py"}


def test_a_star_import_counts_every_submodule_of_that_package(tmp_path):
    files = {**BASE, "core/layers.py": "", "core/inner/__init__.py": "", "perf/__init__.py": "",
             "perf/q.py": "from ..core import *\n"}
    assert closure_of(tmp_path, files, "tinytorch.perf.q") == {
        "__init__.py", "core/__init__.py", "core/tensor.py", "core/layers.py", "core/inner/__init__.py",
        "perf/__init__.py", "perf/q.py"}


def test_import_cycles_end_with_both_files(tmp_path):
    files = {**BASE, "core/a.py": "from tinytorch.core import b\n", "core/b.py": "from .a import thing\n",
             "core/c.py": "import tinytorch.core.c\n"}
    assert closure_of(tmp_path, files, "tinytorch.core.a") == {
        "__init__.py", "core/__init__.py", "core/a.py", "core/b.py"}
    assert closure_of(tmp_path / "again", files, "tinytorch.core.c") == {
        "__init__.py", "core/__init__.py", "core/c.py"}


def test_imports_inside_functions_and_try_blocks_count(tmp_path):
    files = {**BASE, "core/layers.py": textwrap.dedent("""\
        def build():
            from tinytorch.core.tensor import Tensor
            return Tensor
        try:
            from tinytorch.core.spatial import Conv2d
        except ImportError:
            Conv2d = None
        """), "core/spatial.py": ""}
    assert closure_of(tmp_path, files, "tinytorch.core.layers") == {
        "__init__.py", "core/__init__.py", "core/layers.py", "core/tensor.py", "core/spatial.py"}


def test_alternatives_include_every_one_that_exists(tmp_path):
    files = {**BASE, "core/transformer.py": "", "core/transformers.py": "", "core/other.py": ""}
    entry = "tinytorch.core.transformer|tinytorch.core.transformers|tinytorch.models.transformer"
    assert closure_of(tmp_path / "both", files, entry) == {
        "__init__.py", "core/__init__.py", "core/transformer.py", "core/transformers.py"}
    one = {k: v for k, v in files.items() if k != "core/transformer.py"}
    assert closure_of(tmp_path / "one", one, entry, "tinytorch.core.tensor") == {
        "__init__.py", "core/__init__.py", "core/transformers.py", "core/tensor.py"}
    assert closure_of(tmp_path / "none", BASE, entry) == {"__init__.py", "core/__init__.py"}, (
        "looking for the module runs the parent packages that exist")


def test_a_module_that_is_a_package_counts_with_its_init(tmp_path):
    files = {**BASE, "models/__init__.py": "", "models/transformer/__init__.py": "from .gpt import GPT\n",
             "models/transformer/gpt.py": ""}
    assert closure_of(tmp_path, files, "tinytorch.models.transformer") == {
        "__init__.py", "models/__init__.py", "models/transformer/__init__.py", "models/transformer/gpt.py"}


@pytest.mark.parametrize("source", [
    "import importlib\n",
    "import importlib.util\n",
    "from importlib import import_module\n",
    "import pkgutil\n",
    "import runpy\n",
    "import builtins\n",
    "def load(name):\n    return __import__(name)\n",
    "exec('from tinytorch.perf import quantization')\n",
    "value = eval('1 + 1')\n",
    "code = compile('x = 1', 'x', 'exec')\n",
    "import sys\nsys.modules['tinytorch.core.tensor'] = None\n",
    "import sys as system\nsystem.path.insert(0, '.')\n",
    "from sys import modules\n",
    "f = getattr(__builtins__, 'open')\n",
    "__path__.append('elsewhere')\n",
    "import operator\nload = operator.methodcaller('import_module', 'tinytorch.perf')\n",
])
def test_a_dynamic_import_in_the_closure_means_the_whole_package(tmp_path, source):
    files = {**BASE, "core/layers.py": "from .tensor import Tensor\n", "core/loader.py": source,
             "perf/__init__.py": "", "perf/quantization.py": ""}
    pkg = package(tmp_path, files)
    assert closure(pkg, ["tinytorch.core.loader"]) is None
    assert closure_hash(pkg, ["tinytorch.core.loader"]) == tree_hash(pkg)
    assert closure(pkg, ["tinytorch.core.layers"]) == {"__init__.py", "core/__init__.py", "core/layers.py",
                                                       "core/tensor.py"}, "outside the closure it is harmless"


def test_uses_that_only_look_dynamic_are_fine(tmp_path):
    source = textwrap.dedent("""\
        import re
        import sys
        class Model:
            def eval(self):
                self.path = sys.argv
                return self
        m = Model().eval()
        r = re.compile('x')
        """)
    files = {**BASE, "core/model.py": source}
    assert closure_of(tmp_path, files, "tinytorch.core.model") == {"__init__.py", "core/__init__.py",
                                                                  "core/model.py"}


def test_a_file_of_the_closure_that_does_not_parse_means_the_whole_package(tmp_path):
    files = {**BASE, "core/layers.py": "from .tensor import Tensor\ndef broken(:\n", "core/ok.py": "",
             "perf/__init__.py": "", "perf/draft.py": "def half_written(\n"}
    pkg = package(tmp_path, files)
    assert closure(pkg, ["tinytorch.core.layers"]) is None
    assert closure_hash(pkg, ["tinytorch.core.layers"]) == tree_hash(pkg)
    # a draft nothing imports cannot break the extra: the closure stands
    assert closure(pkg, ["tinytorch.core.ok"]) == {"__init__.py", "core/__init__.py", "core/ok.py"}


@pytest.mark.parametrize("extra_file", ["core/weights.npy", "README.md", "core/fast.so", "hook.pth",
                                        "data/vocab.json"])
def test_a_file_other_than_python_means_the_whole_package(tmp_path, extra_file):
    pkg = package(tmp_path, {**BASE, extra_file: "not python\n"})
    assert closure(pkg, ["tinytorch.core.tensor"]) is None
    assert closure_hash(pkg, ["tinytorch.core.tensor"]) == tree_hash(pkg)


def test_bytecode_and_caches_are_ignored_but_a_link_is_not(tmp_path):
    pkg = package(tmp_path, {**BASE, "core/__pycache__/tensor.cpython-311.pyc": "x",
                             ".ipynb_checkpoints/notes.ipynb": "{}"})
    assert closure(pkg, ["tinytorch.core.tensor"]) == {"__init__.py", "core/__init__.py", "core/tensor.py"}
    (pkg / "core" / "alias.py").symlink_to(pkg / "core" / "tensor.py")
    assert closure(pkg, ["tinytorch.core.tensor"]) is None


def test_no_requires_means_the_whole_package(tmp_path):
    pkg = package(tmp_path, BASE)
    assert closure(pkg, []) is None
    assert closure_hash(pkg, []) == tree_hash(pkg)


def test_the_hash_follows_the_closure_files_only(tmp_path):
    files = {**BASE, "core/layers.py": "from .tensor import Tensor\n", "perf/__init__.py": "",
             "perf/quantization.py": "Q = 1\n"}
    pkg = package(tmp_path, files)
    requires = ["tinytorch.core.layers|tinytorch.core.dense"]
    first = closure_hash(pkg, requires)
    expected = {p: file_hash(pkg / p) for p in ("__init__.py", "core/__init__.py", "core/layers.py",
                                                 "core/tensor.py")}
    assert first == combined_hash(expected)
    (pkg / "perf" / "quantization.py").write_text("Q = 2\n")
    (pkg / "perf" / "new.py").write_text("")
    assert closure_hash(pkg, requires) == first, "files the extra cannot import do not count"
    (pkg / "core" / "tensor.py").write_text("class Tensor:\n    edited = True\n")
    second = closure_hash(pkg, requires)
    assert second != first
    (pkg / "core" / "dense.py").write_text("")
    assert closure_hash(pkg, requires) != second, "a new alternative the extra may import counts"
    everything = closure_hash(pkg, ["tinytorch.core.layers", "tinytorch.perf.quantization",
                                    "tinytorch.perf.new", "tinytorch.core.dense"])
    assert everything == tree_hash(pkg), "a closure of every file hashes as the whole tree"


def test_one_instance_reads_each_file_once_and_answers_per_requires(tmp_path):
    pkg = package(tmp_path, {**BASE, "core/layers.py": "from .tensor import Tensor\n"})
    imports = PackageImports(pkg)
    assert imports.hash(["tinytorch.core.layers"]) == closure_hash(pkg, ["tinytorch.core.layers"])
    assert imports.hash(["tinytorch.core.tensor"]) == closure_hash(pkg, ["tinytorch.core.tensor"])
    assert imports.hash(["tinytorch.core.tensor"]) != imports.hash(["tinytorch.core.layers"])


# --- the real extras stay inside their criterion's requires ---------------------------------------

EXTRAS = REPO / "extras"
HELPERS = "_harness"


def _module_paths() -> dict[str, tuple[str, ...]]:
    """``_harness/course.py``'s MODULE_PATHS, read without importing it."""
    tree = ast.parse((EXTRAS / HELPERS / "course.py").read_text())
    for node in tree.body:
        target = node.target if isinstance(node, ast.AnnAssign) else (node.targets[0] if isinstance(
            node, ast.Assign) else None)
        if isinstance(target, ast.Name) and target.id == "MODULE_PATHS":
            return ast.literal_eval(node.value)
    raise AssertionError("extras/_harness/course.py has no MODULE_PATHS")


class ExtrasImports:
    """Which ``tinytorch`` modules an extra can import: its script, plus the parts of the
    ``_harness`` helpers it reaches (functions and classes it uses, module top levels it imports),
    followed through the helpers' own imports. ``course_name("key", ...)`` / ``course_module("key")``
    stand for every path MODULE_PATHS lists for the key, in order."""

    def __init__(self):
        self.module_paths = _module_paths()
        self.modules: dict[str, dict] = {}

    def _load(self, module: str) -> dict:
        """Top-level units (defs and classes; None is the module's other statements) and bindings."""
        if module not in self.modules:
            path = EXTRAS.joinpath(*module.split(".")).with_suffix(".py")
            if not path.is_file():
                path = EXTRAS.joinpath(*module.split("."), "__init__.py")
            tree = ast.parse(path.read_text(encoding="utf-8"))
            units: dict[str | None, list[ast.AST]] = {None: []}
            for node in tree.body:
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    units[node.name] = [node]
                else:
                    units[None].append(node)
            package = module if path.name == "__init__.py" else module.rpartition(".")[0]
            self.modules[module] = {"units": units, "bindings": self._bindings(tree, package)}
        return self.modules[module]

    def _is_helper(self, module: str) -> bool:
        return (module == HELPERS or module.startswith(HELPERS + ".")) and (
            EXTRAS.joinpath(*module.split(".")).with_suffix(".py").is_file()
            or EXTRAS.joinpath(*module.split("."), "__init__.py").is_file())

    def _bindings(self, tree: ast.Module, package: str) -> dict[str, tuple[str, str | None]]:
        """name -> (helper module, name in it) for a name, or (helper module, None) for a module."""
        bound: dict[str, tuple[str, str | None]] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[:len(package.split(".")) - node.level + 1]
                    base = ".".join(parts + ([node.module] if node.module else []))
                if not (base == HELPERS or base.startswith(HELPERS + ".")):
                    continue
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    is_module = self._is_helper(sub)
                    bound[alias.asname or alias.name] = (sub, None) if is_module else (base, alias.name)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith(HELPERS) and alias.asname:
                        bound[alias.asname] = (alias.name, None)
        return bound

    def reached(self, script: str) -> tuple[set[str], list[str]]:
        """(tinytorch module names the script can import, unresolvable dynamic imports)."""
        mentions: set[str] = set()
        unresolved: list[str] = []
        root = Path(script).stem  # the whole script is one unit: it all runs
        tree = ast.parse((EXTRAS / script).read_text(encoding="utf-8"))
        self.modules[root] = {"units": {None: [tree]}, "bindings": self._bindings(tree, "")}
        todo: list[tuple[str, str | None]] = [(root, None)]
        done: set[tuple[str, str | None]] = set()
        while todo:
            unit = todo.pop()
            if unit in done:
                continue
            done.add(unit)
            module, name = unit
            info = self._load(module)
            todo.append((module, None))  # using any part of a module imports it: its top level runs
            if module.startswith(HELPERS + "."):
                todo.append((HELPERS, None))
            for node in info["units"].get(name, info["units"][None]):
                self._scan(node, module, info, mentions, unresolved, todo)
        return mentions, unresolved

    def _scan(self, tree: ast.AST, module: str, info: dict, mentions: set[str], unresolved: list[str],
              todo: list) -> None:
        bindings, units = info["bindings"], info["units"]
        as_attribute = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                target = bindings.get(node.value.id)
                if target is not None and target[1] is None:  # helper_module.name
                    as_attribute.add(id(node.value))
                    known = node.attr in self._load(target[0])["units"]
                    todo.append((target[0], node.attr if known else None))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                mentions.update(a.name for a in node.names if a.name.split(".")[0] == "tinytorch")
            elif isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").startswith(
                    "tinytorch"):
                mentions.add(node.module)
                mentions.update(f"{node.module}.{a.name}" for a in node.names if a.name[:1].islower())
            elif isinstance(node, ast.Name) and id(node) not in as_attribute:
                if node.id in units:  # a function or class of the same module
                    todo.append((module, node.id))
                target = bindings.get(node.id)
                if target is not None:
                    helper, attr = target
                    if attr is None:  # the module object itself escapes: all of it
                        todo.extend((helper, unit) for unit in self._load(helper)["units"])
                    else:
                        todo.append((helper, attr if attr in self._load(helper)["units"] else None))
            elif isinstance(node, ast.Call):
                self._call(node, module, mentions, unresolved)

    def _call(self, node: ast.Call, module: str, mentions: set[str], unresolved: list[str]) -> None:
        func = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        first = node.args[0] if node.args else None
        literal = first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else None
        where = f"{module}:{node.lineno}"
        forwarding = module == f"{HELPERS}.course" and literal is None  # course_name -> course_module(key)
        if func in ("course_name", "course_module"):
            if forwarding:
                pass
            elif literal not in self.module_paths:
                unresolved.append(f"{where}: {func}({ast.unparse(first) if first else ''})")
            else:
                mentions.add(f"@{literal}")  # resolved against the requires in covered()
        elif func in ("import_module", "__import__"):
            if literal is not None:
                mentions.add(literal)
            elif not forwarding:  # course_module's loop over MODULE_PATHS[key]
                unresolved.append(f"{where}: {func}({ast.unparse(first) if first else ''})")
        for arg in node.args:
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value.startswith(
                    "tinytorch."):
                mentions.add(arg.value)


def uncovered(mentions: set[str], requires: list[str], module_paths: dict[str, tuple[str, ...]]) -> set[str]:
    """The mentioned modules no ``requires`` alternative (or parent package of one) covers.

    A course key's paths are tried in order, the first that exists is imported: a later path is
    reached only when every earlier one is missing, which no satisfied ``requires`` entry made of
    earlier paths allows."""
    alternatives = [set(entry.split("|")) for entry in requires]
    named = set().union(*alternatives) if alternatives else set()
    parents = {".".join(m.split(".")[:i]) for m in named for i in range(1, m.count(".") + 1)}

    def covered(module: str) -> bool:
        return module in named or module in parents

    missing = set()
    for mention in mentions:
        if not mention.startswith("@"):
            if not covered(mention) and not _is_a_name(mention):
                missing.add(mention)
            continue
        paths = module_paths[mention[1:]]
        for i, path in enumerate(paths):
            earlier = set(paths[:i])
            if not covered(path) and not any(alts <= earlier for alts in alternatives):
                missing.add(path)
    return missing


def _is_a_name(mention: str) -> bool:
    """``tinytorch.core.tensor.Tensor``-like candidates of ``from X import y``: y is not a module of
    the reference package or of the course fixture."""
    packages = (REPO / "tinytorch", REPO / "tests/fixtures/course_tinytorch/tinytorch")
    parent, _, last = mention.rpartition(".")
    if not parent.startswith("tinytorch") or "." not in mention:
        return False
    def exists(module: str) -> bool:
        rel = Path(*module.split(".")[1:])
        as_file = [(p / rel).with_suffix(".py") for p in packages] if rel.parts else []
        return any(f.is_file() for f in as_file + [p / rel / "__init__.py" for p in packages])

    return exists(parent) and not exists(mention) and last.isidentifier()


def test_the_extras_import_reader_sees_what_it_must(tmp_path):
    """The reader itself: course keys, helpers reached through functions, and what it leaves out."""
    reader = ExtrasImports()
    mentions, unresolved = reader.reached("02_compression.py")
    assert not unresolved
    assert {"@quantization", "@compression", "tinytorch.core.losses", "tinytorch.core.autograd",
            "tinytorch"} <= mentions, "no_grad (course.py) and seed_everything (common.py) are reached"
    generation, _ = reader.reached("03_generation_opts.py")
    assert "@transformer" in generation and "tinytorch.core.losses" not in generation, (
        "lm.train_char_gpt is not used by generation_opts: its imports do not count")
    assert uncovered({"@transformer"}, ["tinytorch.core.transformers|tinytorch.core.transformer"],
                     reader.module_paths) == set(), "models.transformer is only tried when both are missing"
    assert uncovered({"@transformer"}, ["tinytorch.core.transformers"], reader.module_paths) == {
        "tinytorch.core.transformer"}, "tried first, so reached whenever it exists"
    assert uncovered({"@transformer"}, ["tinytorch.core.transformer"], reader.module_paths) == set()
    assert uncovered({"@transformer"}, ["tinytorch.models.transformer"], reader.module_paths) == {
        "tinytorch.core.transformer", "tinytorch.core.transformers"}
    mnist, _ = reader.reached("02_rumelhart_mnist.py")
    perceptron, _ = reader.reached("02_rosenblatt_trained.py")
    assert "tinytorch.core.autograd" in mnist, "course.no_grad imports the package's autograd"
    assert "tinytorch.core.autograd" not in perceptron, "common.seed_everything does not"
    assert uncovered({"tinytorch.core", "tinytorch", "tinytorch.core.tensor.Tensor"},
                     ["tinytorch.core.tensor"], reader.module_paths) == set()


def test_every_extra_imports_only_what_its_requires_covers():
    criteria = load_all(REPO / "criteria")
    reader = ExtrasImports()
    gaps, unresolved = {}, {}
    for crit in criteria.values():
        mentions, dynamic = reader.reached(crit.script)
        missing = uncovered(mentions, crit.requires, reader.module_paths)
        if missing:
            gaps[crit.id] = missing
        if dynamic:
            unresolved[crit.id] = dynamic
    assert not unresolved, f"imports the test cannot follow: {unresolved}"
    assert gaps == {}, "modules an extra imports that its criterion's requires lacks: " + "; ".join(
        f"{cid}: {', '.join(sorted(names))}" for cid, names in sorted(gaps.items()))


# --- a regrade after one edit reruns exactly the extras that can import it ------------------------

_LIGHT = {
    "__init__.py": "",
    "core/__init__.py": "",
    "core/ops.py": "def square_grad(xs):\n    return [2 * x for x in xs]\n",
    "perf/__init__.py": "",
    "perf/quantization.py": "from ..core.ops import square_grad\n\n"
                            "def quantize(xs):\n    return [round(x) for x in xs]\n",
    "text/__init__.py": "",
    "text/tokenizer.py": "def split(text):\n    return text.split()\n",
}
# a course-style package: its __init__ imports every module, so every extra can reach every file
_HEAVY = {**_LIGHT, "__init__.py": "from .core.ops import square_grad\nfrom .perf import quantization\n"
                                   "from .text.tokenizer import split\n"}

_EXTRAS = {
    "grad.py": 'mark("grad")\nfrom tinytorch.core.ops import square_grad\n'
               'report("ok", float(square_grad([1.0]) == [2.0]))\n',
    "quant.py": 'mark("quant")\nfrom tinytorch.perf.quantization import quantize\n'
                'report("ok", float(quantize([0.4, 1.6]) == [0, 2]))\n',
    "tokens.py": textwrap.dedent("""\
        mark("tokens")
        import importlib
        for path in ("tinytorch.text.tokenizer", "tinytorch.text.tokenization"):
            try:
                split = importlib.import_module(path).split
                break
            except ModuleNotFoundError:
                pass
        report("ok", float(split("a b") == ["a", "b"]))
        """),
}
_REQUIRES = {"grad": ["tinytorch.core.ops"], "quant": ["tinytorch.perf.quantization"],
             "tokens": ["tinytorch.text.tokenizer|tinytorch.text.tokenization"]}


def _small_class(root: Path) -> dict[str, Path]:
    paths = {name: root / name for name in ("extras", "criteria", "submissions", "cache")}
    for path in paths.values():
        path.mkdir(parents=True)
    paths["marker"] = root / "ran.txt"
    profile = {"env": {"FAKE_MARKER": str(paths["marker"])}, "expected_seconds": 1, "budget": _budget(20)}
    for crit_id, requires in _REQUIRES.items():
        (paths["extras"] / f"{crit_id}.py").write_text(_METRICS + _EXTRAS[f"{crit_id}.py"])
        doc = {"id": crit_id, "title": crit_id, "script": f"{crit_id}.py", "milestone": "test",
               "requires": requires, "profiles": {"full": profile, "quick": profile},
               "checks": [{"name": "ok", "metric": "ok", **TRUSTED, "rule": {"min": 1.0}, "points": 1}]}
        (paths["criteria"] / f"{crit_id}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    for name, files in (("alice", _LIGHT), ("bob", _LIGHT), ("carol", _HEAVY)):
        package(paths["submissions"] / name, files)
    return paths


def _grade(paths: dict[str, Path]):
    subs = resolve_submissions([paths["submissions"]], paths["cache"] / "submissions")
    criteria = list(load_all(paths["criteria"]).values())
    cache = ResultCache(paths["cache"] / "results")
    pipeline = Pipeline(criteria, ThreadPool(LocalRunner(), 3), paths["extras"], profile="quick", seed=1,
                        include_hidden=True, cache=cache)
    return pipeline.grade(subs), subs


def _edit(paths: dict[str, Path], student: str, rel: str, text: str) -> None:
    target = paths["submissions"] / student / "tinytorch" / rel
    target.write_text(text)


ALL = {(s, e) for s in ("alice", "bob", "carol") for e in _REQUIRES}


def test_editing_one_module_reruns_exactly_the_extras_that_can_import_it(tmp_path):
    paths = _small_class(tmp_path)
    first, subs = _grade(paths)
    assert set(first.executed) == ALL and not first.cached
    assert all(s.status == "passed" for s in first.report.submissions), first.report.submissions
    assert sorted(first.executed) == sorted((line.split()[0], line.split()[1])
                                            for line in paths["marker"].read_text().splitlines())

    quantization = _LIGHT["perf/quantization.py"].replace("round(x)", "int(x + 0.5)")
    _edit(paths, "alice", "perf/quantization.py", quantization)  # light: only quant can import it
    _edit(paths, "carol", "perf/quantization.py", quantization)  # heavy: every extra imports __init__
    second, subs = _grade(paths)
    rerun = {("alice", "quant"), ("carol", "grad"), ("carol", "quant"), ("carol", "tokens")}
    assert set(second.executed) == rerun
    assert set(second.cached) == ALL - rerun and len(second.cached) == len(ALL - rerun)
    assert all(s.status == "passed" for s in second.report.submissions)
    hashes = {s.name: s.hash for s in second.report.submissions}
    for sub in subs:  # reports keep the whole package's hash
        assert hashes[sub.name] == sub.hash == tree_hash(sub.submission.root / "tinytorch")

    _edit(paths, "bob", "core/ops.py", "def square_grad(xs):\n    return [x + x for x in xs]\n")
    third, _ = _grade(paths)
    assert set(third.executed) == {("bob", "grad"), ("bob", "quant")}, "quantization imports ops"

    _edit(paths, "bob", "text/tokenization.py", "def split(text):\n    return text.split()\n")
    _edit(paths, "bob", "bench.py", "print('not imported by any extra')\n")
    fourth, _ = _grade(paths)
    assert set(fourth.executed) == {("bob", "tokens")}, "a new alternative of a requires entry counts"

    (paths["submissions"] / "alice" / "tinytorch" / "core" / "table.json").write_text("{}")
    fifth, _ = _grade(paths)
    assert set(fifth.executed) == {("alice", e) for e in _REQUIRES}, "a data file: the whole package counts"
    assert len(paths["marker"].read_text().splitlines()) == len(ALL) + 4 + 2 + 1 + 3, "each run marked once"


def test_entries_of_the_previous_cache_format_miss(tmp_path):
    """Format 1 keyed results by the whole package's hash: such a file is never read as a hit."""
    cache = ResultCache(tmp_path)
    key = CacheKey("sha256:code", "sha256:crit", "local:", "quick", 1)
    extra = sample_report().submissions[0].extras[0]
    path = cache.store("alice", "grad", key, extra)
    assert cache.load("alice", "grad", key) == extra
    record = json.loads(path.read_text())
    assert record["format"] == CACHE_FORMAT == 2
    old_key = {k: v for k, v in record["key"].items() if k != "code_hash"}
    old_key["submission_hash"] = "sha256:code"
    for stored in ({**record, "format": 1}, {**record, "format": 1, "key": old_key},
                   {**record, "key": old_key}):
        path.write_text(json.dumps(stored))
        assert cache.load("alice", "grad", key) is None, stored["format"]
