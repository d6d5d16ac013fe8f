"""Plain-text notes on an extra that its table row cannot hold: the diagnosis of an extra that did
not pass, a wall budget scaled to this machine (raw and scaled), and every seed of a stochastic
check that was rerun. Each renderer
escapes them its own way (they carry values a script reported)."""

from __future__ import annotations

from harness.report.model import ExtraResult


def budget_note(extra: ExtraResult) -> str | None:
    """``wall budget 800 s (400 s on project-2core x 2.00, calibration)`` when it was scaled."""
    wall = extra.run.wall_budget
    return None if wall is None else f"wall budget {wall.describe()}"


def seed_notes(extra: ExtraResult, visible_only: bool = False) -> list[str]:
    """``check: seeds 1337: 0.912 failed, 1338: 0.961 passed (...)`` per rerun stochastic check."""
    return [f"{c.name}: {c.seeds.describe()}" for c in extra.checks
            if c.seeds is not None and (c.visibility == "visible" or not visible_only)]


def diagnosis_note(extra: ExtraResult) -> str | None:
    """``diagnosis: `tinytorch.core.activations.Tanh`: backward gives no gradient (...)`` for an
    extra that did not pass (``harness.diagnose``)."""
    return None if extra.diagnosis is None else f"diagnosis: {extra.diagnosis.summary}"


def notes(extra: ExtraResult, visible_only: bool = False) -> list[str]:
    budget, diagnosis = budget_note(extra), diagnosis_note(extra)
    return ([diagnosis] if diagnosis else []) + ([budget] if budget else []) + seed_notes(extra, visible_only)
