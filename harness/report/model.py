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

    @property
    def source_label(self) -> str:
        """`` (self-reported)`` for a number the student's process computed, else empty."""
        return " (self-reported)" if self.source == "self-reported" else ""


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
