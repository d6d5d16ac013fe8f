"""The sandbox's side of evidence: read the host's inputs, return raw arrays (stdlib + numpy only).

Under the harness, ``$HARNESS_IN/probes.npz`` holds what the host drew for this run from a secret
seed (probe inputs, initial weights, the inputs of a consistency batch) and ``record`` writes raw
arrays to ``$HARNESS_OUT/evidence/<name>.npy``. The script computes no grade: the host compares
these arrays with its own numpy reference and evaluates the exported weights on data it keeps.
Run directly (no harness), ``inputs()`` draws stand-ins from a fixed seed so the script still runs.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .common import to_numpy
from .export import NAME, save_arrays

EVIDENCE_DIR = "evidence"


def inputs() -> dict[str, np.ndarray]:
    """The host's arrays for this run (read-only copies); {} when run directly."""
    directory = os.environ.get("HARNESS_IN")
    if not directory:
        return {}
    with np.load(Path(directory) / "probes.npz", allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def record(name: str, array) -> None:
    """Write one raw array of evidence (float arrays as float64, no pickle); nothing when run directly."""
    if not isinstance(name, str) or not NAME.match(name):
        raise ValueError(f"evidence name {name!r} must be letters, digits and '_' in dot-separated parts")
    value = np.asarray(to_numpy(array) if hasattr(array, "data") else array)
    if value.dtype == object:
        raise TypeError(f"evidence {name!r}: object arrays cannot be saved without pickle")
    if np.issubdtype(value.dtype, np.floating):
        value = value.astype(np.float64)
    out = os.environ.get("HARNESS_OUT")
    if out:
        save_arrays(Path(out) / EVIDENCE_DIR, {name: value})


def record_grad(name: str, param) -> None:
    """``param.grad`` as evidence (Tensor or array, as the course stores it); nothing when None."""
    grad = getattr(param, "grad", None)
    if grad is not None:
        record(name, to_numpy(grad) if hasattr(grad, "data") else grad)


def set_param(param, value: np.ndarray) -> None:
    """Overwrite a parameter's values in place (keeps the student's Tensor) and mark it trainable, as
    the course's optimizers do (the 2026 course creates ``Linear`` weights without ``requires_grad``)."""
    target = to_numpy(param)
    if target.shape != value.shape:
        raise SystemExit(f"a parameter has shape {target.shape}, expected {value.shape}: the layer's "
                         "weight layout differs from the course's (Linear: (in, out); "
                         "Conv2d: (out, in, kh, kw))")
    target[...] = value.astype(target.dtype)
    param.requires_grad = True


def start_from(params: dict, given: dict[str, np.ndarray], prefix: str = "init.") -> None:
    """Load the host's initial weights (``given[prefix + name]``) into ``params`` when present."""
    for name, param in params.items():
        if prefix + name in given:
            set_param(param, given[prefix + name])
        else:
            param.requires_grad = True


def export_weights(params: dict, prefix: str = "weights.") -> None:
    """The trained parameters as evidence, one array per name."""
    for name, param in params.items():
        record(prefix + name, to_numpy(param))


def stand_in(shapes: dict[str, tuple], seed: int = 0) -> dict[str, np.ndarray]:
    """Inputs for a direct run: uniform(-1, 1) float32 arrays of the given shapes."""
    rng = np.random.default_rng(seed)
    return {name: rng.uniform(-1, 1, shape).astype(np.float32) for name, shape in shapes.items()}


def record_consistency(given: dict[str, np.ndarray], forward) -> None:
    """The model's own outputs on the host's consistency batch (``forward(x) -> array``), so the host
    can check that the exported weights are the model that trained."""
    if "consistency.x" in given:
        record("consistency.out", forward(given["consistency.x"].astype(np.float32)))
