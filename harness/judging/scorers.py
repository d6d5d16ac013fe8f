"""Host scorers: grade-bearing numbers computed from sandbox artifacts and labels the sandbox never saw."""

from __future__ import annotations

import ast
import functools
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np

from harness.judging.outfiles import OutFileError, read_capped

MAX_ARTIFACT_BYTES = 64 * 1024 * 1024
MAX_REFERENCE_BYTES = 16 * 1024 * 1024
MAX_TEXTS = 10_000            # strings in one text artifact (answers, programs)
MAX_PROGRAM_CHARS = 100_000   # one program handed to ast.parse
Needs = Literal["labels", "reference"] | None
Scorer = Callable[[Any, Any], float]
SCORERS: dict[str, Scorer] = {}
# What a scorer compares the artifact with: held-out ``labels`` (dataset:split), a ``reference``
# file in criteria/sample-secrets/references/, or nothing (the artifact is judged on its own).
SCORER_NEEDS: dict[str, Needs] = {}


class ArtifactProblem(Exception):
    """The script's artifact is missing or malformed: the check fails, with this message as reason."""


class ScoringUnavailable(Exception):
    """The host cannot score (e.g. labels missing): not the student's fault, the check is not gradable."""


def register_scorer(name: str, needs: Needs = "labels") -> Callable[[Scorer], Scorer]:
    """Decorator: make ``fn(artifact, expected) -> float`` available as ``scorer: name`` in criteria.

    ``needs`` says what ``expected`` is: ``"labels"`` (an ndarray of held-out labels, the check
    names them with ``labels: dataset:split``), ``"reference"`` (the parsed JSON of a file in
    secrets' ``references/``, named with ``reference: file.json``) or None (``expected`` is None).
    """
    if needs not in ("labels", "reference", None):
        raise ValueError(f"scorer {name!r}: needs must be 'labels', 'reference' or None, got {needs!r}")

    def add(fn: Scorer) -> Scorer:
        SCORERS[name] = fn
        SCORER_NEEDS[name] = needs
        return fn

    return add


@register_scorer("accuracy")
def accuracy(predictions: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of correct class ids; (N,) integer ids or (N, C) scores (argmax is taken)."""
    if not isinstance(predictions, np.ndarray):
        raise ArtifactProblem(f"predictions are {type(predictions).__name__}, expected a .npy array")
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


def normalise_text(text: str) -> str:
    """How ``exact_match`` compares answers: lower case, runs of whitespace as one space, trimmed."""
    return " ".join(text.split()).lower()


def _texts(artifact: Any, what: str) -> list[str]:
    """A list of strings from a 1-D unicode .npy array or a JSON list of strings."""
    if isinstance(artifact, np.ndarray):
        if artifact.dtype.kind != "U":
            raise ArtifactProblem(f"{what} have dtype {artifact.dtype}, expected a unicode string array")
        if artifact.ndim != 1:
            raise ArtifactProblem(f"{what} have shape {artifact.shape}, expected one string per entry (1-D)")
        texts = artifact.tolist()
    elif isinstance(artifact, list):
        bad = next((i for i, item in enumerate(artifact) if not isinstance(item, str)), None)
        if bad is not None:
            raise ArtifactProblem(f"{what}: entry {bad} is {type(artifact[bad]).__name__}, expected a string")
        texts = artifact
    else:
        raise ArtifactProblem(f"{what} are {type(artifact).__name__}, expected a list of strings")
    if not texts:
        raise ArtifactProblem(f"{what}: the list is empty")
    if len(texts) > MAX_TEXTS:
        raise ArtifactProblem(f"{what}: {len(texts)} entries, more than the {MAX_TEXTS} allowed")
    return texts


@register_scorer("exact_match", needs="reference")
def exact_match(answers: Any, reference: Any) -> float:
    """Share of answers equal to the reference answers (a JSON list of strings, same order),
    compared after ``normalise_text`` (case and whitespace do not count)."""
    if not isinstance(reference, list) or not all(isinstance(r, str) for r in reference):
        raise ScoringUnavailable("the exact_match reference must be a JSON list of strings")
    answers = _texts(answers, "answers")
    if len(answers) != len(reference):
        raise ArtifactProblem(f"answers have {len(answers)} entries, expected {len(reference)}")
    same = [normalise_text(a) == normalise_text(r) for a, r in zip(answers, reference, strict=True)]
    return float(np.mean(same))


def parses(program: str) -> bool:
    """Whether Python's parser accepts ``program`` (ast.parse only: nothing is compiled or run)."""
    try:
        ast.parse(program)
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
        return False
    return True


@register_scorer("parse_rate", needs=None)
def parse_rate(programs: Any, _expected: None = None) -> float:
    """Share of programs that ``ast.parse`` accepts (never executed; each at most 100,000 chars)."""
    programs = _texts(programs, "programs")
    too_long = next((i for i, p in enumerate(programs) if len(p) > MAX_PROGRAM_CHARS), None)
    if too_long is not None:
        raise ArtifactProblem(f"program {too_long} has {len(programs[too_long])} characters, "
                              f"more than the {MAX_PROGRAM_CHARS} allowed")
    return float(np.mean([parses(p) for p in programs]))


def _strict_json(raw: bytes, name: str) -> Any:
    """JSON from bytes: UTF-8 only, no NaN/Infinity, no absurd nesting; ValueError says why."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{name} is not UTF-8 text (byte {exc.start})") from None

    def no_constant(token: str):
        raise ValueError(f"{name} contains {token}, which is not JSON")

    try:
        return json.loads(text, parse_constant=no_constant)
    except RecursionError:
        raise ValueError(f"{name} is nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{name} is not valid JSON ({exc.msg} at line {exc.lineno})") from None


def load_artifact(out_dir: Path | None, filename: str, max_bytes: int = MAX_ARTIFACT_BYTES) -> Any:
    """An artifact from the sandbox, size-capped: ``.json`` parsed strictly, anything else as one
    ``.npy`` array (never unpickled)."""
    try:
        raw = read_capped(out_dir, filename, max_bytes)
    except OutFileError as exc:
        raise ArtifactProblem(str(exc)) from None
    if filename.endswith(".json"):
        try:
            return _strict_json(raw, filename)
        except ValueError as exc:
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


def load_reference(path: Path) -> Any:
    """A host-side reference file (the secrets' references/, never mounted): capped, strict JSON."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_REFERENCE_BYTES + 1)
    except OSError as exc:
        raise ScoringUnavailable(f"reference {path} is not available on the host ({exc.strerror})") from None
    if len(raw) > MAX_REFERENCE_BYTES:
        raise ScoringUnavailable(f"reference {path} is over the {MAX_REFERENCE_BYTES} byte cap")
    try:
        return _strict_json(raw, str(path))
    except ValueError as exc:
        raise ScoringUnavailable(f"reference {exc}") from None


def score_artifact(scorer: str, out_dir: Path | None, filename: str, labels: str | None = None,
                   max_bytes: int = MAX_ARTIFACT_BYTES, reference: Path | None = None) -> float:
    """Run ``scorer`` on ``out_dir/filename`` against what it needs: held-out ``labels``
    (``dataset:split``), the ``reference`` file, or nothing."""
    if scorer not in SCORERS:
        raise ScoringUnavailable(f"unknown scorer {scorer!r}; known: {', '.join(sorted(SCORERS))}")
    needs = SCORER_NEEDS.get(scorer, "labels")
    if needs == "labels" and labels is None:
        raise ScoringUnavailable(f"scorer {scorer!r} needs labels (dataset:split) and the check names none")
    if needs == "reference" and reference is None:
        raise ScoringUnavailable(f"scorer {scorer!r} needs a reference file and the check names none")
    artifact = load_artifact(out_dir, filename, max_bytes)
    if needs == "labels":
        expected = _labels(labels)
    elif needs == "reference":
        expected = load_reference(Path(reference))
    else:
        expected = None
    return SCORERS[scorer](artifact, expected)
