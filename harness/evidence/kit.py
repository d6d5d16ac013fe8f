"""An evidence kit: what the host draws for one extra's run and how it scores what comes back.

A criterion names its kit (``evidence: mnist_mlp``); its ``source: host`` checks read the metrics
the kit computes. ``prepare`` runs before the run (its ``public`` arrays become the read-only
``/in``; ``private`` never leaves the host); ``score`` runs after, on the run's evidence arrays.
A metric the kit cannot compute is an ``EvidenceProblem`` naming why, never a silent number.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import EvidenceProblem

Arrays = dict[str, np.ndarray]


@dataclass(frozen=True)
class Measured:
    """A host metric with a note on what drove it (shown with the check's reason when it fails)."""

    value: float | bool
    note: str | None = None


HostValue = float | bool | Measured | EvidenceProblem


@dataclass(frozen=True)
class Prepared:
    public: Arrays  # handed to the sandbox
    private: dict[str, Any] = field(default_factory=dict)  # kept on the host
    # host-timed phases: name -> (setup, go) arrays, revealed by the runner during the run
    sealed: dict[str, tuple[Arrays, Arrays]] = field(default_factory=dict)


Timings = dict[str, dict]  # phase name -> {"seconds": host-measured go-to-done, "digest": announced}


@dataclass(frozen=True)
class Kit:
    name: str
    metrics: tuple[str, ...]  # every metric ``score`` returns
    prepare: Callable[[np.random.Generator, str], Prepared]  # (rng, profile)
    score: Callable[[Arrays, Prepared, str], dict[str, HostValue]]  # (evidence, prepared, profile)
    # metrics from host-timed phases: (evidence, prepared, profile, timings); their names are in ``metrics``
    timed: Callable[[Arrays, Prepared, str, Timings], dict[str, HostValue]] | None = None


def finite_or_explained(value: float, tried: str, found: str | None = None) -> HostValue:
    """``value`` when finite; otherwise ``Measured(inf)`` whose note says what was computed (``tried``)
    and what came out (``found``, default: which operands were not finite)."""
    if np.isfinite(value):
        return value
    return Measured(float("inf"), f"{tried} gave {value}" + (f": {found}" if found else ""))


def nonfinite(**arrays: np.ndarray | float) -> str:
    """``run output `x` holds 3 NaN/inf of 40`` for each named operand that is not all finite."""
    parts = []
    for name, array in arrays.items():
        a = np.asarray(array, dtype=np.float64)
        bad = int(np.sum(~np.isfinite(a)))
        if bad:
            parts.append(f"`{name}` holds {bad} NaN/inf value{'s' if bad != 1 else ''} of {a.size}")
    return "; ".join(parts) or "every operand was finite, the result overflowed"


def relative_change(before: np.ndarray, after: np.ndarray) -> float:
    """||after - before|| / ||before||; inf when not finite."""
    value = float(np.linalg.norm(after - before) / max(np.linalg.norm(before), 1e-12))
    return value if np.isfinite(value) else float("inf")


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two equally shaped arrays (0 when either is constant)."""
    a, b = a.ravel() - a.mean(), b.ravel() - b.mean()
    denominator = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b / denominator) if denominator > 0 else 0.0


def exported(evidence: Arrays, layout: dict[str, tuple[int, ...]], prefix: str = "weights.") -> Arrays:
    """The exported parameters named in ``layout`` (float64), or ArchitectureMismatch naming the first
    missing or misshaped one."""
    from . import ArchitectureMismatch

    weights = {}
    for name, shape in layout.items():
        array = evidence.get(prefix + name)
        if array is None:
            raise ArchitectureMismatch(f"architecture mismatch: no trained `{name}` was exported "
                                       "(the script stopped before exporting, or the model lacks it)")
        if array.shape != shape:
            raise ArchitectureMismatch(f"architecture mismatch: `{name}` has shape {array.shape}, the "
                                       f"extra's model declares {shape}")
        if not np.all(np.isfinite(array)):
            raise ArchitectureMismatch(f"trained `{name}` holds NaN or inf: training diverged")
        weights[name] = array.astype(np.float64)
    return weights


def consistent(host_out: np.ndarray, evidence: Arrays, name: str = "consistency.out",
               tolerance: float = 1e-3) -> None:
    """The student's own forward on the consistency batch agrees with the host's evaluation of the
    exported weights; otherwise the model is not the declared architecture (ArchitectureMismatch)."""
    from . import ArchitectureMismatch
    from .numpy_ref import relative_error

    student = evidence.get(name)
    if student is None:
        raise ArchitectureMismatch(f"the run recorded no `{name}` (its own outputs on the grader's "
                                   "consistency batch), so its weights cannot be checked against its model")
    error = relative_error(student.reshape(host_out.shape) if student.size == host_out.size else student,
                           host_out)
    if not error <= tolerance:
        raise ArchitectureMismatch(
            f"architecture mismatch: the grader's evaluation of the exported weights differs from your "
            f"model's own outputs on the same inputs (relative error {error:.2e} > {tolerance:g}); the "
            "model is not the architecture the extra declares, or a layer computes something else")


def probe_metrics(probe, inputs: Arrays, evidence: Arrays) -> dict[str, HostValue]:
    """``forward_max_error`` / ``backward_max_error`` of a numerics probe; a reason where it has one."""
    score = probe.score(inputs, evidence)
    out: dict[str, HostValue] = {}
    for metric, value, reason in (("forward_max_error", score.forward_max_error, score.forward_reason),
                                  ("backward_max_error", score.backward_max_error, score.backward_reason)):
        out[metric] = EvidenceProblem(f"{metric} is {value}: {reason}") if not np.isfinite(value) \
            else Measured(value, reason)
    return out


def weights_or_problem(compute: Callable[[], dict[str, HostValue]],
                       names: tuple[str, ...]) -> dict[str, HostValue]:
    """Run ``compute``; an EvidenceProblem it raises becomes the value of every metric in ``names``."""
    try:
        return compute()
    except EvidenceProblem as problem:
        return dict.fromkeys(names, problem)
