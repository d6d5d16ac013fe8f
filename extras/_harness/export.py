"""Export a model's weights as plain arrays, so the host can rebuild the model without the student's code.

``named_arrays(model)`` walks a course-style model generically: an object's public attributes (its
``vars()``, in definition order), the items of lists and tuples (by index) and of dicts (by key,
when the key is a plain name), and the objects found there, depth first. Whatever holds a numpy
array in ``.data`` is a Tensor (duck typing: the course's ``Tensor`` keeps its values in ``.data``);
it is collected under the dotted path that reached it (``blocks.0.attention.q_proj.weight``) and not
walked into. Attributes starting with ``_`` are skipped (caches, autograd state); the same Tensor or
object reached twice keeps the first name (which also ends cycles). Classes, modules, functions and
bound methods are not walked (a patched ``forward`` is a closure, not part of the model).

``save_arrays(directory, arrays)`` writes one ``<name>.npy`` per array, without pickle (the one
writer of evidence: ``evidence.record`` uses it); the host reads them back with
``harness.evidence.arrays.load_arrays``.

stdlib + numpy only: this file runs inside the sandbox, next to the student's package.
"""

from __future__ import annotations

import re
import types
from pathlib import Path

import numpy as np

MAX_DEPTH = 12  # names in one dotted path
MAX_ARRAYS = 10_000
MAX_VISITS = 1_000_000  # attributes and items looked at, whatever they hold

NAME = re.compile(r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$")
_PART = re.compile(r"^[A-Za-z0-9_]+$")
_ATOMS = (str, bytes, bytearray, int, float, complex, bool, type(None), np.ndarray, np.generic,
          range, slice, memoryview)
_NOT_WALKED = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.MethodType,
               types.CodeType, types.FrameType, types.GeneratorType, property, staticmethod, classmethod)


class ExportError(ValueError):
    """The model cannot be exported as named arrays; the message says where and why."""


def _tensor_data(obj) -> np.ndarray | None:
    """``obj.data`` when it is an ndarray (obj is then Tensor-like), else None."""
    try:
        data = getattr(obj, "data", None)
    except Exception:  # a property that fails is not a Tensor's
        return None
    return data if isinstance(data, np.ndarray) else None


def _children(obj) -> list[tuple[str, object]]:
    """(name part, value) of what ``obj`` holds, in order; [] for what is not walked."""
    if isinstance(obj, (list, tuple)):
        return [(str(i), item) for i, item in enumerate(obj)]
    if isinstance(obj, dict):
        return [(key, value) for key, value in obj.items()
                if isinstance(key, str) and _PART.match(key) and not key.startswith("_")]
    if isinstance(obj, (set, frozenset, _ATOMS, _NOT_WALKED)):
        return []
    try:
        attributes = vars(obj)
    except TypeError:  # no __dict__ (slots, builtins): nothing a course model keeps there
        return []
    return [(key, value) for key, value in list(attributes.items())
            if isinstance(key, str) and _PART.match(key) and not key.startswith("_")]


def named_arrays(model, *, max_depth: int = MAX_DEPTH, max_arrays: int = MAX_ARRAYS) -> dict[str, np.ndarray]:
    """Every Tensor reachable from ``model``'s public attributes, by dotted name, as float32 copies.

    Raises ExportError when a path is deeper than ``max_depth`` names, when more than
    ``max_arrays`` Tensors are found, when the walk looks at more than a million entries, or when
    a Tensor holds non-numeric values.
    """
    arrays: dict[str, np.ndarray] = {}
    seen: set[int] = {id(model)}
    keep_alive = [model]  # ids stay unique while the objects they name are alive
    visits = 0
    # Depth first, in definition order: a stack of (name parts, object), children pushed reversed.
    stack: list[tuple[tuple[str, ...], object]] = [((), model)]
    while stack:
        path, obj = stack.pop()
        children = _children(obj)
        visits += len(children)
        if visits > MAX_VISITS:
            raise ExportError(f"the model's attributes hold more than {MAX_VISITS} entries (at "
                              f"{'.'.join(path) or 'the model'}); keep data sets and caches off the model")
        pending = []
        for part, value in children:
            if isinstance(value, _ATOMS) or id(value) in seen:
                continue
            seen.add(id(value))
            keep_alive.append(value)
            name_parts = (*path, part)
            name = ".".join(name_parts)
            data = _tensor_data(value)
            if data is not None:
                if not (np.issubdtype(data.dtype, np.number) or data.dtype == np.bool_):
                    raise ExportError(f"{name} holds {data.dtype} values, not numbers")
                if len(arrays) >= max_arrays:
                    raise ExportError(f"the model holds more than {max_arrays} Tensors (the last one "
                                      f"found: {name}); export a smaller model")
                arrays[name] = np.array(data, dtype=np.float32, copy=True)
                continue
            if isinstance(value, _NOT_WALKED):
                continue
            if len(name_parts) >= max_depth:
                if any(not isinstance(v, _ATOMS) and id(v) not in seen for _, v in _children(value)):
                    raise ExportError(f"{name} nests deeper than {max_depth} levels; a course model "
                                      "is a few levels deep (blocks.0.attention.q_proj.weight)")
                continue
            pending.append((name_parts, value))
        stack.extend(reversed(pending))
    return arrays


def save_arrays(directory, arrays: dict[str, np.ndarray]) -> list[Path]:
    """Write each array to ``directory/<name>.npy`` (created if needed; no pickle); returns the paths.

    Names are dotted plain names (letters, digits, ``_``, single dots between parts).
    """
    directory = Path(directory)
    for name, value in arrays.items():
        if not isinstance(name, str) or not NAME.match(name):
            raise ExportError(f"array name {name!r} must be letters, digits and '_' in dot-separated parts")
        if not isinstance(value, np.ndarray) or value.dtype.hasobject or not (
                np.issubdtype(value.dtype, np.number) or value.dtype == np.bool_):
            raise ExportError(f"{name} is not a numeric ndarray")
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, value in arrays.items():
        path = directory / f"{name}.npy"
        with open(path, "wb") as handle:
            np.save(handle, value, allow_pickle=False)
        paths.append(path)
    return paths


__all__ = ["ExportError", "MAX_ARRAYS", "MAX_DEPTH", "named_arrays", "save_arrays"]

