"""The sandbox's side of host-timed phases (stdlib + numpy only).

Under the harness, a timed piece of work is a phase: the script prints that it is ready, the
runner reveals the untimed setup (``$HARNESS_IN/phases/NAME.setup.npz``); the script prepares,
prints ``go``, the runner reveals the secret input (``NAME.go.npz``) and starts ITS clock; the
script computes the answer, records it as evidence ``phase.NAME`` and prints ``done`` with the
answer's sha256, which stops the runner's clock. Times printed here are for the reader only.

Run directly (no harness), the script draws the inputs itself and times the phase with its own
clock, so the demo still shows its numbers.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from . import evidence

MARK = "\x1eharness-phase"
WAIT_SECONDS = 60.0
_POLL_SECONDS = 0.0005

Arrays = dict[str, np.ndarray]


def under_harness(name: str) -> bool:
    """Whether the host sealed inputs for phase ``name`` (it lists them in probes.npz)."""
    return f"phase.{name}.sealed" in evidence.inputs()


def canonical(answer) -> np.ndarray:
    """The answer as evidence stores it: float64 for floating values, int64 for the rest."""
    value = np.asarray(answer)
    dtype = np.float64 if np.issubdtype(value.dtype, np.floating) else np.int64
    return np.ascontiguousarray(value, dtype=dtype)


def answer_digest(answer) -> str:
    """What ``done`` announces and the host recomputes: sha256 of the canonical answer's bytes."""
    return hashlib.sha256(canonical(answer).tobytes()).hexdigest()


def _say(verb: str, name: str, digest: str = "") -> None:
    print(f"{MARK} {verb} {name}{' ' + digest if digest else ''}", flush=True)


def _revealed(name: str, part: str) -> Arrays:
    path = Path(os.environ["HARNESS_IN"]) / "phases" / f"{name}.{part}.npz"
    deadline = time.monotonic() + WAIT_SECONDS
    while not path.exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"the harness did not reveal {path.name} within {WAIT_SECONDS:.0f} s")
        time.sleep(_POLL_SECONDS)
    with np.load(path, allow_pickle=False) as archive:
        return {key: archive[key] for key in archive.files}


def run_phase(name: str, setup: Callable[[Arrays], object], work: Callable[[object, Arrays], np.ndarray],
              stand_in: Callable[[], tuple[Arrays, Arrays]]) -> tuple[np.ndarray, float]:
    """Run ``work(setup(setup_inputs), go_inputs)`` as phase ``name``; (answer, seconds shown).

    ``stand_in()`` gives (setup inputs, go inputs) when run directly. The answer (a numeric
    array) is recorded as evidence ``phase.NAME``.
    """
    hosted = under_harness(name)
    if hosted:
        _say("ready", name)
    setup_in, go_in = (_revealed(name, "setup"), None) if hosted else stand_in()
    state = setup(setup_in)
    if hosted:
        _say("go", name)
        go_in = _revealed(name, "go")
    started = time.perf_counter()
    answer = canonical(work(state, go_in))
    seconds = time.perf_counter() - started
    if hosted:
        _say("done", name, answer_digest(answer))
    evidence.record(f"phase.{name}", answer)
    return answer, seconds
