"""Host-timed phases: the runner, not the script, measures how long a piece of work takes.

A phase is revealed in two steps, each on a line the script prints (``MARK ready|go|done ...``):

- ``ready NAME``: the runner copies the sealed ``NAME.setup.npz`` into the run's ``/in/phases``
  (untimed preparation, e.g. a prompt to feed a cache);
- ``go NAME``: the runner copies ``NAME.go.npz`` (the secret part the answer depends on, e.g. the
  tokens that follow the prompt) and starts its clock;
- ``done NAME DIGEST``: the runner stops the clock and keeps ``DIGEST``, the sha256 the script
  announces of its answer. The host later checks that the answer in the evidence has that digest
  and is right, so the time belongs to real work done after the secret was revealed.

Lines are read from the script's stdout as it arrives (both backends stream it). Anything out of
order (an unknown phase, ``go`` before ``ready``, a second ``done``) is ignored and noted.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

MARK = "\x1eharness-phase"
REVEAL_DIR = "phases"  # inside the run's inputs (read-only /in in the sandbox)
_LINE = re.compile(rf"^{MARK} (ready|go|done) ([a-z0-9_.]{{1,64}})(?: ([0-9a-f]{{64}}))?$")
_MAX_LINE = 4096
_MAX_NOTES = 20


class PhaseServer:
    """Reveal sealed phase inputs when the script asks, and time each phase's go-to-done span."""

    def __init__(self, sealed: Path | None, reveal: Path | None):
        self._sealed, self._reveal = sealed, reveal
        self._pending = b""
        self._state: dict[str, str] = {}
        self._started: dict[str, float] = {}
        self.timings: dict[str, dict] = {}  # name -> {"seconds": float, "digest": str}
        self.notes: list[str] = []

    @classmethod
    def for_job(cls, job) -> PhaseServer | None:
        """A server for ``job`` when it has sealed phases (and inputs to reveal them into)."""
        if getattr(job, "phases", None) is None or job.inputs is None:
            return None
        reveal = Path(job.inputs) / REVEAL_DIR
        reveal.mkdir(mode=0o755, exist_ok=True)
        reveal.chmod(0o755)
        return cls(Path(job.phases), reveal)

    def feed(self, chunk: bytes) -> None:
        """Scan a piece of stdout for complete marker lines (called on the reader's thread)."""
        data = self._pending + chunk
        lines = data.split(b"\n")
        self._pending = lines.pop()[-_MAX_LINE:]
        for line in lines:
            if line.startswith(MARK.encode()):
                try:
                    self._handle(line.decode("ascii", errors="replace").rstrip("\r"))
                except OSError as exc:  # the reveal failed: the phase stays unrevealed, untimed
                    self._note(f"could not reveal a phase input: {exc}")

    def _handle(self, line: str) -> None:
        now = time.perf_counter()
        match = _LINE.match(line)
        if match is None:
            return self._note(f"malformed phase line {line[:80]!r}")
        verb, name, digest = match.groups()
        state = self._state.get(name)
        expected = {"ready": None, "go": "ready", "done": "go"}[verb]
        if state != expected or (verb == "done" and not digest):
            return self._note(f"phase {name!r}: {verb!r} out of order (state {state})")
        if verb == "done":
            self._state[name] = "done"
            self.timings[name] = {"seconds": now - self._started[name], "digest": digest}
        elif self._reveal_file(name, "setup" if verb == "ready" else "go"):
            self._state[name] = verb
            if verb == "go":
                self._started[name] = time.perf_counter()

    def _reveal_file(self, name: str, part: str) -> bool:
        source = self._sealed / f"{name}.{part}.npz"
        if not source.is_file():
            self._note(f"phase {name!r}: no such phase (no sealed {part} input)")
            return False
        target = self._reveal / source.name
        staging = self._reveal / f".{source.name}.tmp"
        shutil.copyfile(source, staging)
        staging.chmod(0o644)
        os.replace(staging, target)  # atomic: the script never sees half a file
        return True

    def record_into(self, result) -> None:
        """Store the timings in a RunResult, drop the marker lines from its stdout (they are the
        runner's protocol, not the student's output) and say in its stderr what was ignored."""
        result.phases = dict(self.timings)
        result.stdout = "\n".join(line for line in result.stdout.split("\n") if not line.startswith(MARK))
        result.stderr += "".join(f"\n[harness: {note}]" for note in self.notes)

    def _note(self, text: str) -> None:
        if len(self.notes) < _MAX_NOTES:
            self.notes.append(text)
