"""The runner interface: every backend turns a Job into a RunResult."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class Budget:
    """Resources one run may use before it is stopped."""

    wall_seconds: float = 300.0
    memory_mib: int = 2048
    cpus: float = 1.0
    pids: int = 64
    out_mib: int = 64  # cap on what the script may write to /out
    tmp_mib: int = 256  # cap on /tmp inside the sandbox


@dataclass(frozen=True)
class Job:
    """One extra run against one submission under one profile."""

    job_id: str  # unique in a run, e.g. "alice/mnist_mlp"
    criterion_id: str
    script: str  # file name inside extras_dir
    extras_dir: Path  # mounted read-only
    submission_dir: Path  # the directory that contains the `tinytorch/` package; read-only
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()  # extra environment from the profile
    budget: Budget = field(default_factory=Budget)
    datasets: tuple[tuple[str, Path], ...] = ()  # (name, host dir of the sandbox view)
    inputs: Path | None = None  # host dir of the run's secret probes and initial weights (read-only /in)
    phases: Path | None = None  # host-only sealed phase inputs, revealed during the run (runners/phases.py)
    seed: int = 1337
    profile: str = "full"


@dataclass
class RunResult:
    """What happened to one Job: always complete, whatever the script did."""

    job_id: str
    exit_code: int | None = None  # None when killed by a signal or never started
    signal: int | None = None
    timed_out: bool = False
    oom_killed: bool = False
    # the job's processes reached its process (pids) limit: forks were refused (a fork bomb?)
    pids_limit_hit: bool = False
    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0
    peak_rss_mib: float | None = None
    stdout: str = ""  # capped: head and tail kept, middle elided with a marker
    stderr: str = ""
    out_dir: Path | None = None  # host directory holding a copy of /out (caller removes it)
    out_problem: str | None = None  # why /out could not be taken (past a limit...): the script's fault
    infra_error: str | None = None  # the harness could not run the job at all (not the student's fault)
    started_at: float = 0.0  # time.time() at start
    finished_at: float = 0.0
    backend: dict = field(default_factory=dict)  # provenance: backend name, image id, ...
    phases: dict = field(default_factory=dict)  # host-timed phases: name -> {"seconds", "digest"}


class Runner(Protocol):
    """A backend: local subprocess or docker container.

    A backend may also offer ``cancel()``: stop every job it is running now (each ``run`` then
    returns promptly with an ``infra_error``) and start none after. The scheduler calls it when
    the harness is interrupted (Ctrl-C) so that the batch stops at once.
    """

    name: str

    def available(self) -> tuple[bool, str]:
        """Whether this backend can run here, and if not, what to do about it."""

    def run(self, job: Job) -> RunResult:
        """Run one job to completion (or kill), never raising for the script's behaviour."""

    def describe(self) -> dict:
        """Provenance recorded in reports (backend name, image id, versions)."""
