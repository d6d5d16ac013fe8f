"""Host-timed phases on the host: seal their inputs before the run, verify and time them after.

The runner times each phase from the moment it reveals the secret part to the moment the script
announces its answer's digest (``harness/runners/phases.py``). A time counts only when the answer
in the evidence has that digest and is right, so a phase cannot be answered early or with a guess.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from . import EvidenceProblem
from .kit import Arrays, Timings
from .shipped import helper

VARIANTS = ("recompute", "cached")
ARGMAX_TOLERANCE = 1e-3  # float32 package vs float64 host: a near tie may go either way


def answered(name: str, evidence: Arrays, timings: Timings) -> tuple[np.ndarray, float]:
    """Phase ``name``'s answer and host-measured seconds; EvidenceProblem when it was not timed, or
    the evidence is not what the script announced when the clock stopped."""
    timing = timings.get(name)
    if timing is None:
        raise EvidenceProblem(f"phase `{name}` was never timed by the runner (the script did not reach "
                              "it, or did not announce ready/go/done in order)")
    answer = evidence.get(f"phase.{name}")
    if answer is None:
        raise EvidenceProblem(f"phase `{name}` recorded no answer (`phase.{name}`)")
    if helper("phases").answer_digest(answer) != timing["digest"]:
        raise EvidenceProblem(f"phase `{name}`: the recorded answer is not the one announced when the "
                              "runner's clock stopped")
    return answer, float(timing["seconds"])


def seal_decoding(rng: np.random.Generator, *, vocab: int, prompt_len: int,
                  rounds: int) -> dict[str, tuple[Arrays, Arrays]]:
    """Each round's recomputing and cached phase: a prompt (untimed), then secret suffix tokens."""
    sealed, suffix = {}, helper("decode_timing").SUFFIX
    for i in range(rounds):
        for variant in VARIANTS:
            sealed[f"decode.{variant}.{i}"] = (
                {"prompt": rng.integers(0, vocab, prompt_len).astype(np.int64)},
                {"suffix": rng.integers(0, vocab, suffix).astype(np.int64)})
    return sealed


def _check_greedy(name: str, answer: np.ndarray, setup: Arrays, go: Arrays, new_tokens: int,
                  logits: Callable[[np.ndarray], np.ndarray]) -> None:
    """``answer`` = prompt + suffix + ``new_tokens`` greedy tokens of the model behind ``logits``."""
    given = np.concatenate([setup["prompt"], go["suffix"]])
    answer = answer.reshape(-1)
    if answer.size != given.size + new_tokens or not np.array_equal(answer[:given.size], given):
        raise EvidenceProblem(f"phase `{name}`: the answer is not the revealed prompt and suffix followed "
                              f"by {new_tokens} new tokens")
    scores = logits(answer[None, :-1].astype(np.int64))[0]
    for position in range(given.size - 1, answer.size - 1):
        row, token = scores[position], int(answer[position + 1])
        slack = ARGMAX_TOLERANCE * max(1.0, float(np.abs(row).max()))
        if not 0 <= token < row.size or row[token] < row.max() - slack:
            step = position - given.size + 2
            raise EvidenceProblem(f"phase `{name}`: new token {step} is {token}, but your model's greedy "
                                  f"choice there is {int(row.argmax())} (checked with the exported weights)")


def decode_speedup(evidence: Arrays, sealed: dict[str, tuple[Arrays, Arrays]], timings: Timings,
                   new_tokens: int, logits: Callable[[np.ndarray], np.ndarray]) -> tuple[float, str]:
    """(best recomputing seconds / best cached seconds, a note with both), every phase verified."""
    best = {variant: float("inf") for variant in VARIANTS}
    for name, (setup, go) in sealed.items():
        answer, seconds = answered(name, evidence, timings)
        _check_greedy(name, answer, setup, go, new_tokens, logits)
        variant = name.split(".")[1]
        best[variant] = min(best[variant], seconds)
    rounds = len(sealed) // len(VARIANTS)
    note = (f"timed by the runner, best of {rounds}: {best['recompute']:.3f} s recomputing, "
            f"{best['cached']:.3f} s cached")
    return best["recompute"] / max(best["cached"], 1e-6), note
