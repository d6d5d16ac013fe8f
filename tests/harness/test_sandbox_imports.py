"""The sandbox's Python environment is declared once (requirements.in) and explains foreign imports."""

from __future__ import annotations

from harness import sandbox_imports
from harness.runners.docker.image import parse_lock

SCIPY_CRASH = "Traceback (most recent call last):\nModuleNotFoundError: No module named 'scipy'\n"


def write_package(root, text):
    module = root / "tinytorch" / "core" / "activations.py"
    module.parent.mkdir(parents=True)
    module.write_text(text)
    return root


def test_the_course_environment_is_provided(repo_root):
    provided = sandbox_imports.provided_modules()
    assert {"numpy", "rich", "yaml"} <= set(provided)
    assert provided["yaml"] == "PyYAML"


def test_the_lock_pins_exactly_requirements_in(repo_root):
    pins = {name.lower() for name in sandbox_imports.sandbox_packages()}
    assert {pkg.name.lower() for pkg in parse_lock(repo_root / "requirements.lock")} == pins


def test_foreign_imports_name_file_and_line(tmp_path):
    write_package(tmp_path, "import numpy as np\nimport os, yaml\nfrom scipy.special import expit\n"
                            "from . import sibling\nimport tinytorch.core.tensor\n")
    (found,) = sandbox_imports.foreign_imports(tmp_path)
    assert (found.module, found.path, found.line) == ("scipy", "tinytorch/core/activations.py", 3)


def test_an_unparsable_file_is_left_to_the_run(tmp_path):
    write_package(tmp_path, "def broken(:\n")
    assert sandbox_imports.foreign_imports(tmp_path) == []


def test_a_crash_on_a_foreign_module_explains_how_to_allow_it(tmp_path):
    write_package(tmp_path, "\n\nfrom scipy.special import expit\n")
    reason = sandbox_imports.explain_missing_module(SCIPY_CRASH, tmp_path)
    assert "`scipy` (tinytorch/core/activations.py:3)" in reason
    assert "numpy" in reason and "requirements.in" in reason


def test_other_crashes_are_not_explained_as_foreign_imports(tmp_path):
    write_package(tmp_path, "import numpy\n")
    assert sandbox_imports.explain_missing_module("ValueError: shapes differ\n", tmp_path) is None
    for provided in ("tinytorch", "numpy"):
        crash = f"ModuleNotFoundError: No module named '{provided}'"
        assert sandbox_imports.explain_missing_module(crash, tmp_path) is None


def test_an_instructor_extension_is_honoured(tmp_path):
    requirements = tmp_path / "requirements.in"
    requirements.write_text("numpy==2.4.6\nscipy==1.14.1\nscikit-learn==1.5.0  # provides: sklearn\n")
    write_package(tmp_path, "import scipy\nimport sklearn\nimport torch\n")
    assert [f.module for f in sandbox_imports.foreign_imports(tmp_path, requirements)] == ["torch"]
