"""The canonical report (contracts §5): every other format is rendered from these models."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

SCHEMA_VERSION = 1
Verdict = Literal["passed", "failed", "timeout", "out_of_memory", "crashed", "not_gradable"]
# Worst first: the verdict of an extra / a submission is the first of these that occurs.
VERDICT_PRECEDENCE: tuple[str, ...] = (
    "not_gradable", "timeout", "out_of_memory", "crashed", "failed", "passed",
)


def worst(verdicts) -> str:
    """The most severe verdict of ``verdicts`` by the contract's precedence (``passed`` if empty)."""
    present = set(verdicts)
    return next((v for v in VERDICT_PRECEDENCE if v in present), "passed")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Machine(_Model):
    cpus: int
    memory_gib: float | None = None
    platform: str
    python: str


class Provenance(_Model):
    backend: str
    image_id: str | None = None
    lock_hash: str | None = None
    criteria_hash: str
    criteria: dict[str, str] = {}
    seed: int
    profile: str
    hidden_checks_included: bool
    # whose secrets seeded the probes and held the answer keys: "instructor" or the public sample
    secrets: str = "instructor"
    machine: Machine


class WallBudget(_Model):
    """A wall budget stated for a reference machine and scaled to this one (``harness calibrate``)."""

    reference_machine: str
    raw_seconds: float  # as the criterion states it, on the reference machine
    speed_factor: float  # this machine's workload time / the reference's, as applied (clamped)
    seconds: float  # what the runner enforced: raw_seconds x speed_factor
    factor_source: str  # "calibration", "HARNESS_SPEED_FACTOR" or "default" (never calibrated)
    unclamped_factor: float | None = None  # the factor before clamping, when it was clamped

    def scaling(self) -> str:
        """``(400 s on project-2core x 2.00, calibration)``."""
        text = f"({self.raw_seconds:g} s on {self.reference_machine} x {self.speed_factor:.2f}, "
        text += self.factor_source
        if self.unclamped_factor is not None:
            text += f"; measured factor {self.unclamped_factor:.2f} clamped"
        return text + ")"

    def describe(self) -> str:
        """``800 s (400 s on project-2core x 2.00, calibration)``."""
        return f"{self.seconds:g} s {self.scaling()}"


class RunInfo(_Model):
    exit_code: int | None = None
    signal: int | None = None
    timed_out: bool = False
    oom_killed: bool = False
    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0
    peak_rss_mib: float | None = None
    stdout_tail: str = ""
    stderr_tail: str = ""
    infra_error: str | None = None
    wall_budget: WallBudget | None = None  # set when the budget was scaled to this machine


class SeedRun(_Model):
    """One seed's run of a stochastic check."""

    seed: int
    value: bool | int | float | str | None = None
    verdict: Verdict
    reason: str
    wall_seconds: float = 0.0


class SeedRuns(_Model):
    """A stochastic check rerun with other seeds after a near miss: it passes when ``k`` of ``n`` pass."""

    n: int
    k: int
    margin: float
    runs: list[SeedRun]

    @property
    def passes(self) -> int:
        return sum(r.verdict == "passed" for r in self.runs)

    def describe(self) -> str:
        """``seeds 1337: 0.912 failed, 1338: 0.961 passed (1 of 2 passed; 2 of 3 needed)``."""
        def value(run: SeedRun) -> str:
            if isinstance(run.value, float):
                return f"{run.value:.4g}"
            return "no value" if run.value is None else str(run.value)

        runs = ", ".join(f"{r.seed}: {value(r)} {r.verdict.replace('_', ' ')}" for r in self.runs)
        return f"seeds {runs} ({self.passes} of {len(self.runs)} passed; {self.k} of {self.n} needed)"


class CheckResult(_Model):
    name: str
    metric: str
    value: bool | int | float | str | None = None
    rule: str
    verdict: Verdict
    reason: str
    score: float
    max_score: float
    visibility: Literal["visible", "hidden"] = "visible"
    explain: str | None = None
    # host: computed on the host from evidence; self-reported: the student's process said so
    source: Literal["host", "self-reported"] = "host"
    component: str | None = None  # the course component the check probes directly, if any
    seeds: SeedRuns | None = None  # every seed's run, when a near miss was rerun with other seeds

    @property
    def source_label(self) -> str:
        """`` (self-reported)`` for a number the student's process computed, else empty."""
        return " (self-reported)" if self.source == "self-reported" else ""


class Diagnosis(_Model):
    """Why an extra that did not pass failed: the most likely component at fault, from probes of
    each component it depends on (``harness.diagnose``), or a plain statement that none could be
    isolated."""

    component: str | None = None  # e.g. "tinytorch.core.activations.Tanh"; None: none isolated
    summary: str  # one line for every report, e.g. "`tinytorch.core.activations.Tanh`: backward ..."
    faulty: list[str] = []  # every component that disagreed with numpy
    probed: list[str] = []
    skipped: list[str] = []  # not in the package (never blamed)


class ExtraResult(_Model):
    id: str
    title: str
    script: str
    profile: str
    verdict: Verdict
    reason: str
    score: float
    max_score: float
    run: RunInfo
    metrics: dict[str, bool | int | float | str | None] = {}
    series: dict[str, list[float | None]] = {}
    problems: list[str] = []  # what was wrong with the script's output (metrics.jsonl, artifacts)
    checks: list[CheckResult] = []
    diagnosis: Diagnosis | None = None  # set when the extra did not pass (optional: older reports lack it)


class SubmissionResult(_Model):
    name: str
    path: str
    hash: str
    score: float
    max_score: float
    status: Verdict
    extras: list[ExtraResult] = []


class Report(_Model):
    schema_version: Literal[1] = SCHEMA_VERSION
    harness_version: str
    created_at: str
    provenance: Provenance
    submissions: list[SubmissionResult] = []

    def all_extras(self):
        """(submission, extra) pairs in report order."""
        return [(s, e) for s in self.submissions for e in s.extras]
