"""Criteria: the schema of a criterion file (``schema``), the cross-field rules its validators
apply (``validation``) and the YAML loader whose errors carry file:line (``loader``)."""

from harness.criteria.loader import load_all, load_criterion
from harness.criteria.schema import (
    PROFILE_NAMES,
    Check,
    CriteriaError,
    Criterion,
    ModuleName,
    Rule,
    fmt_number,
)

__all__ = ["PROFILE_NAMES", "Check", "CriteriaError", "Criterion", "ModuleName", "Rule", "fmt_number",
           "load_all", "load_criterion"]
