"""Greedy decoding timed by the host: recomputing the whole context vs YOUR KV cache.

Each round runs two phases (``_harness/phases.py``), recomputing first, then cached. Untimed, a
phase gets a prompt (the cached side feeds it to the cache one token at a time); timed, it gets
SUFFIX secret tokens to append and then decodes greedily (numpy argmax of YOUR last logits). The
answer is the whole sequence; the host checks every decoded token against its own forward pass of
the exported weights, so only real decoding earns the time. The speedup is the runner's best
recomputing time over its best cached time.
"""

from __future__ import annotations

import numpy as np

from .common import to_numpy
from .course import CachedDecoder, no_grad
from .phases import run_phase

SUFFIX = 4  # secret tokens revealed when the clock starts: the continuation is unknowable before


def _argmax(logits) -> int:
    return int(np.argmax(np.asarray(logits).reshape(-1)))


def decode_phases(model, tensor_cls, enable, disable, *, vocab: int, prompt_len: int, new_tokens: int,
                  rounds: int, seed: int) -> dict[str, list[float]]:
    """Run ``rounds`` alternating rounds (after one untimed warm-up); the script's own seconds per
    variant, for printing only."""
    rng = np.random.default_rng(seed)

    def stand_in():
        return ({"prompt": rng.integers(0, vocab, prompt_len)}, {"suffix": rng.integers(0, vocab, SUFFIX)})

    def last_logits(ids: list[int]) -> np.ndarray:
        with no_grad():
            return to_numpy(model.forward(tensor_cls(np.array([ids]))))[0, -1]

    def recompute_setup(given) -> list[int]:
        disable(model)
        return [int(t) for t in given["prompt"]]

    def recompute(ids: list[int], go) -> list[int]:
        ids = ids + [int(t) for t in go["suffix"]]
        for _ in range(new_tokens):
            ids.append(_argmax(last_logits(ids)))
        return ids

    def cached_setup(given):
        decoder = CachedDecoder(model, tensor_cls, enable).__enter__()
        ids = [int(t) for t in given["prompt"]]
        with no_grad():
            for token in ids:
                decoder.step(token)
        return decoder, ids

    def cached(state, go) -> list[int]:
        decoder, ids = state
        try:
            with no_grad():
                for token in go["suffix"]:
                    logits = decoder.step(int(token))
                    ids.append(int(token))
                for i in range(new_tokens):
                    ids.append(_argmax(logits))
                    if i + 1 < new_tokens:
                        logits = decoder.step(ids[-1])
        finally:
            decoder.__exit__(None, None, None)
            disable(model)
        return ids

    warm = stand_in()
    recompute(recompute_setup(warm[0]), warm[1])
    cached(cached_setup(warm[0]), warm[1])
    seconds: dict[str, list[float]] = {"recompute": [], "cached": []}
    for i in range(rounds):
        for variant, setup, work in (("recompute", recompute_setup, recompute),
                                     ("cached", cached_setup, cached)):
            _, took = run_phase(f"decode.{variant}.{i}", setup, work, stand_in)
            seconds[variant].append(took)
    return seconds
