"""Reach the student's package through the course's API only, with fallbacks for what it may lack.

The course places each module where its ``#| default_exp`` says (docs/course-api.md): the 2025
course puts the transformer in ``core.transformer``, the 2026 course in ``core.transformers``;
the 2025 course's own published package and older releases used other paths for some modules. So
each module is looked up along a short list of known paths. Features only one version has
(``no_grad`` exists in 2026, not in 2025) are feature-detected with a fallback that works on both.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect

import numpy as np

from .common import to_numpy

# Course module -> where packages written to the course put it, the courses' default_exp first.
MODULE_PATHS: dict[str, tuple[str, ...]] = {
    "transformer": ("tinytorch.core.transformer", "tinytorch.core.transformers",
                    "tinytorch.models.transformer"),
    "dataloader": ("tinytorch.core.dataloader", "tinytorch.data.loader"),
    "tokenization": ("tinytorch.core.tokenization", "tinytorch.text.tokenization"),
    "embeddings": ("tinytorch.core.embeddings", "tinytorch.text.embeddings"),
    "profiling": ("tinytorch.perf.profiling", "tinytorch.profiling.profiler"),
    "quantization": ("tinytorch.perf.quantization", "tinytorch.optimization.quantization"),
    "compression": ("tinytorch.perf.compression", "tinytorch.optimization.compression"),
    "memoization": ("tinytorch.perf.memoization", "tinytorch.generation.kv_cache"),
}


def _is_missing(exc: ImportError, path: str) -> bool:
    """True when ``exc`` says ``path`` itself (or a parent package) does not exist."""
    missing = getattr(exc, "name", None) or ""
    return isinstance(exc, ModuleNotFoundError) and (path == missing or path.startswith(missing + "."))


def course_module(key: str):
    """The student's module for a course module (``"transformer"``), at the first path that exists.

    An error raised while importing a module that exists is the student's and propagates as is.
    """
    for path in MODULE_PATHS[key]:
        try:
            return importlib.import_module(path)
        except ImportError as exc:
            if not _is_missing(exc, path):
                raise
    raise ModuleNotFoundError(f"the course's {key} module was not found in your package; looked for "
                              f"{', '.join(MODULE_PATHS[key])}")


def course_name(key: str, name: str):
    """``name`` from a course module, e.g. ``course_name("transformer", "GPT")``."""
    module = course_module(key)
    try:
        return getattr(module, name)
    except AttributeError:
        raise ImportError(f"{module.__name__} has no {name!r}, which the course's module exports") from None


def no_grad():
    """The package's ``no_grad()`` context if it has one (the 2026 course does, 2025 not), else a no-op."""
    try:
        from tinytorch.core.autograd import no_grad as package_no_grad
    except ImportError:
        return contextlib.nullcontext()
    return package_no_grad()


class CachedDecoder:
    """Feed tokens one at a time through the student's KV cache, in the course's protocol.

    2025: ``enable_kv_cache(model)`` patches the attention; each one-token ``model.forward(x)`` is
    followed by ``cache.advance()``. 2026: the cache is consulted only inside
    ``with cache.generation():``, and ``model.forward(x, start_pos=cache.seq_pos)`` places the token.
    Which one applies is read from the package (a ``generation`` method, a ``start_pos`` parameter).
    Use as ``with CachedDecoder(model, Tensor, enable_kv_cache) as decoder: decoder.step(token)``.
    """

    def __init__(self, model, tensor_cls, enable_kv_cache):
        self.model, self.tensor_cls = model, tensor_cls
        self.cache = enable_kv_cache(model) or getattr(model, "_kv_cache", None)
        if self.cache is None:
            raise TypeError("enable_kv_cache(model) returned no cache and set no model._kv_cache")
        generation = getattr(self.cache, "generation", None)
        self._scope = generation() if callable(generation) else contextlib.nullcontext()
        self._start_pos = "start_pos" in inspect.signature(model.forward).parameters

    def __enter__(self) -> CachedDecoder:
        self._scope.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._scope.__exit__(*exc)

    def step(self, token: int) -> np.ndarray:
        """The logits (vocab,) after feeding one more token."""
        x = self.tensor_cls(np.array([[int(token)]]))
        if self._start_pos:
            out = self.model.forward(x, start_pos=self.cache.seq_pos)
        else:
            out = self.model.forward(x)
        self.cache.advance()
        logits = np.asarray(to_numpy(out), dtype=np.float64)
        return logits.reshape(-1, logits.shape[-1])[-1]
