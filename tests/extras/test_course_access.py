"""extras/_harness/course.py finds course modules where course packages keep them, and no_grad is optional.

Each case runs in a subprocess against a small fake package, without site-packages (``-S``): an
editable install of this project maps every missing ``tinytorch.*`` to the reference otherwise.
"""

from __future__ import annotations

import site
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SITE = ":".join(site.getsitepackages())  # numpy, without running the site module's .pth files


def run_against(package: dict[str, str], root: Path, code: str) -> subprocess.CompletedProcess:
    for name, text in package.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    for folder in {p.parent for p in root.rglob("*.py")}:
        (folder / "__init__.py").touch()
    return subprocess.run([sys.executable, "-S", "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          cwd=root, env={"PYTHONPATH": f"{root}:{REPO / 'extras'}:{SITE}",
                                         "PATH": "/usr/bin:/bin"})


def test_the_published_package_layout_is_found(tmp_path):
    done = run_against({"tinytorch/text/tokenization.py": "class CharTokenizer: pass\n",
                        "tinytorch/core/transformer.py": "class GPT: pass\n"}, tmp_path, """
        from _harness.course import course_module, course_name
        print(course_module("tokenization").__name__, course_name("transformer", "GPT").__module__)
    """)
    assert done.stdout.split() == ["tinytorch.text.tokenization", "tinytorch.core.transformer"], done.stderr


def test_a_missing_module_names_every_path_tried(tmp_path):
    done = run_against({"tinytorch/core/tensor.py": ""}, tmp_path, """
        from _harness.course import course_module
        course_module("memoization")
    """)
    assert "looked for tinytorch.perf.memoization, tinytorch.generation.kv_cache" in done.stderr


def test_an_import_error_inside_the_students_module_is_not_hidden(tmp_path):
    broken = {"tinytorch/perf/profiling.py": "import tinytorch.core.missing_helper\n"}
    done = run_against(broken, tmp_path, """
        from _harness.course import course_module
        course_module("profiling")
    """)
    assert "import tinytorch.core.missing_helper\nModuleNotFoundError" in done.stderr
    assert "looked for" not in done.stderr


def test_a_missing_name_says_which_module_lacks_it(tmp_path):
    done = run_against({"tinytorch/core/transformer.py": "class MLP: pass\n"}, tmp_path, """
        from _harness.course import course_name
        course_name("transformer", "GPT")
    """)
    assert "tinytorch.core.transformer has no 'GPT'" in done.stderr


def test_no_grad_is_a_no_op_when_the_course_package_has_none(tmp_path):
    done = run_against({"tinytorch/core/autograd.py": "def enable_autograd(): pass\n"}, tmp_path, """
        from _harness.course import no_grad
        with no_grad():
            print("ran")
    """)
    assert done.stdout.strip() == "ran", done.stderr


def test_the_packages_own_no_grad_is_used(tmp_path):
    done = run_against({"tinytorch/core/autograd.py": """
        import contextlib
        @contextlib.contextmanager
        def no_grad():
            print("package no_grad")
            yield
    """}, tmp_path, """
        from _harness.course import no_grad
        with no_grad():
            pass
    """)
    assert done.stdout.strip() == "package no_grad", done.stderr


def test_the_2026_kv_protocol_is_driven_inside_generation_with_start_pos(tmp_path):
    """A package whose cache has generation() and whose forward takes start_pos (the 2026 course)."""
    done = run_against({"tinytorch/core/tensor.py": """
        import numpy as np
        class Tensor:
            def __init__(self, data):
                self.data = np.asarray(data, dtype=np.float32)
    """, "tinytorch/perf/memoization.py": """
        import contextlib
        class KVCache:
            seq_pos, inside = 0, False
            @contextlib.contextmanager
            def generation(self):
                self.inside = True
                yield self
                self.inside = False
            def advance(self):
                self.seq_pos += 1
        def enable_kv_cache(model):
            model._kv_cache = KVCache()
            return model._kv_cache
    """}, tmp_path, """
        import numpy as np
        from _harness.course import CachedDecoder, course_name
        from tinytorch.core.tensor import Tensor
        class Model:
            def forward(self, tokens, start_pos=0):
                assert self._kv_cache.inside, "outside cache.generation()"
                logits = np.zeros((1, 1, 5), dtype=np.float32)
                logits[0, 0, start_pos] = 1.0
                return Tensor(logits)
        with CachedDecoder(Model(), Tensor, course_name("memoization", "enable_kv_cache")) as decoder:
            print([int(decoder.step(t).argmax()) for t in (4, 4, 4)])
    """)
    assert done.stdout.strip() == "[0, 1, 2]", done.stderr
