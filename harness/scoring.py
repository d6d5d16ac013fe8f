"""Host scorers: grade-bearing numbers computed from sandbox artifacts and labels the sandbox never saw."""

from __future__ import annotations

import functools
import io
from collections.abc import Callable
from pathlib import Path

import numpy as np

from harness.outfiles import OutFileError, read_capped

MAX_ARTIFACT_BYTES = 64 * 1024 * 1024
Scorer = Callable[[np.ndarray, np.ndarray], float]
SCORERS: dict[str, Scorer] = {}


class ArtifactProblem(Exception):
    """The script's artifact is missing or malformed: the check fails, with this message as reason."""


class ScoringUnavailable(Exception):
    """The host cannot score (e.g. labels missing): not the student's fault, the check is not gradable."""


def register_scorer(name: str) -> Callable[[Scorer], Scorer]:
    """Decorator: make ``fn(artifact, labels) -> float`` available as ``scorer: name`` in criteria."""

    def add(fn: Scorer) -> Scorer:
        SCORERS[name] = fn
        return fn

    return add


@register_scorer("accuracy")
def accuracy(predictions: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of correct class ids; (N,) integer ids or (N, C) scores (argmax is taken)."""
    labels = np.asarray(labels).reshape(-1)
    if predictions.ndim == 2:
        if not np.issubdtype(predictions.dtype, np.number):
            raise ArtifactProblem(f"class scores have dtype {predictions.dtype}, expected numbers")
        predictions = predictions.argmax(axis=1)
    if predictions.ndim != 1:
        raise ArtifactProblem(f"predictions have shape {predictions.shape}, expected ({labels.size},) ids")
    if predictions.shape[0] != labels.size:
        raise ArtifactProblem(f"predictions have {predictions.shape[0]} entries, expected {labels.size}")
    if np.issubdtype(predictions.dtype, np.floating):
        if not np.all(np.isfinite(predictions)) or not np.all(predictions == np.round(predictions)):
            raise ArtifactProblem("predictions are floats that are not whole class ids")
    elif not np.issubdtype(predictions.dtype, np.integer):
        raise ArtifactProblem(f"predictions have dtype {predictions.dtype}, expected integer class ids")
    return float(np.mean(predictions.astype(np.int64) == labels.astype(np.int64)))


def load_artifact(out_dir: Path | None, filename: str, max_bytes: int = MAX_ARTIFACT_BYTES) -> np.ndarray:
    """An .npy artifact from the sandbox, size-capped and never unpickled."""
    try:
        raw = read_capped(out_dir, filename, max_bytes)
    except OutFileError as exc:
        raise ArtifactProblem(str(exc)) from None
    try:
        array = np.load(io.BytesIO(raw), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise ArtifactProblem(f"{filename} is not a valid .npy array without pickle ({exc})") from None
    if not isinstance(array, np.ndarray):
        raise ArtifactProblem(f"{filename} is an archive, expected one .npy array")
    return array


@functools.lru_cache(maxsize=8)
def _labels(spec: str) -> np.ndarray:
    name, split = spec.split(":", 1)
    try:
        from harness.datasets import heldout_labels
    except ImportError as exc:
        raise ScoringUnavailable(f"harness.datasets is not available to load labels {spec}: {exc}") from None
    try:
        return np.asarray(heldout_labels(name, split))
    except Exception as exc:  # any failure to get labels is the host's problem, never the student's
        raise ScoringUnavailable(f"labels {spec} are not available on the host: {exc}") from None


def score_artifact(scorer: str, out_dir: Path | None, filename: str, labels: str,
                   max_bytes: int = MAX_ARTIFACT_BYTES) -> float:
    """Run ``scorer`` on ``out_dir/filename`` against held-out ``labels`` (``dataset:split``)."""
    if scorer not in SCORERS:
        raise ScoringUnavailable(f"unknown scorer {scorer!r}; known: {', '.join(sorted(SCORERS))}")
    array = load_artifact(out_dir, filename, max_bytes)
    return SCORERS[scorer](array, _labels(labels))
