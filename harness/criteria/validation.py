"""Cross-field rules of a check that the schema's types cannot say (used by its validators)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic_core import PydanticCustomError

if TYPE_CHECKING:
    from harness.criteria.schema import Check, Rule


def invalid(message: str) -> PydanticCustomError:
    """A validation error whose text is exactly ``message``."""
    return PydanticCustomError("criteria", "{message}", {"message": message})


def scorer_inputs(check: Check) -> None:
    """An artifact check names its scorer and artifact, plus exactly what the scorer compares with:
    ``labels`` (accuracy), a ``reference`` file (exact_match) or nothing (parse_rate)."""
    from harness.judging.scorers import SCORER_NEEDS  # the registry; imported late (scoring needs numpy)

    needs = SCORER_NEEDS.get(check.scorer, "labels") if check.scorer else "labels"
    required = ["scorer", "artifact"] + ([needs] if needs else [])
    missing = [k for k in required if getattr(check, k) is None]
    if missing:
        raise PydanticCustomError(
            "artifact_fields", "an artifact check needs {missing}", {"missing": ", ".join(missing)}
        )
    if check.scorer not in SCORER_NEEDS:
        return  # unknown scorer: `harness validate` names it; no more to say about its inputs
    extra = [k for k in ("labels", "reference") if k != needs and getattr(check, k) is not None]
    if extra:
        wants = {"labels": "held-out labels", "reference": "a reference file", None: "nothing"}[needs]
        raise PydanticCustomError(
            "artifact_fields", "scorer {scorer} compares with {wants}; remove {extra}",
            {"scorer": check.scorer, "wants": wants, "extra": ", ".join(extra)},
        )


def seeds(rule: Rule, where: str) -> None:
    """A near miss needs a bound to be near: a min, max or range rule with a bound other than 0."""
    if rule.kind not in ("min", "max", "range"):
        raise invalid(f"seeds needs a min, max or range rule (its margin is relative to the bound), "
                       f"{where} is {rule.kind}")
    bounds = rule.range if rule.kind == "range" else (getattr(rule, rule.kind),)
    if not any(bounds):
        raise invalid(f"seeds: the margin is relative to the rule's bound, but the bound of {where} is 0")


def partial(floor: float, rule: Rule, where: str) -> None:
    if rule.kind not in ("min", "max"):
        raise invalid(f"partial credit needs a min or max rule, {where} is {rule.kind}")
    if rule.kind == "min" and not floor < rule.min:
        raise invalid(f"partial.floor {floor} must be below the min {rule.min} of {where}")
    if rule.kind == "max" and not floor > rule.max:
        raise invalid(f"partial.floor {floor} must be above the max {rule.max} of {where}")
