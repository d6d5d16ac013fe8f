"""The criteria schema (contracts §3): pydantic models of a criterion file, strict about keys."""

from __future__ import annotations

import difflib
import math
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveFloat,
    PositiveInt,
    PrivateAttr,
    StrictBool,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from harness.criteria import validation

RULE_KINDS = ("min", "max", "range", "equals", "allclose")
ProfileName = Literal["full", "quick"]
PROFILE_NAMES: tuple[str, ...] = get_args(ProfileName)  # the one place profile names are listed
Identifier = Annotated[str, Field(pattern=r"^[a-z0-9_]+$")]
_DOTTED = r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*"
# ``a.b|a.c``: any one of the alternatives will do (older spellings such as core.transformer).
ModuleName = Annotated[str, Field(pattern=rf"^{_DOTTED}(\|{_DOTTED})*$")]


def _invalid(message: str) -> PydanticCustomError:
    """A validation error whose text is exactly ``message``."""
    return PydanticCustomError("criteria", "{message}", {"message": message})


class CriteriaError(Exception):
    """One or more criteria files are invalid; ``problems`` holds ``file:line: field: message`` lines."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


class _Strict(BaseModel):
    """Unknown keys are errors (reported with a did-you-mean hint by the loader)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def fmt_number(x: float | int | bool | str) -> str:
    """Numbers as in reasons: ``0.912``, ``120.000``, ``1.5e-05``."""
    if isinstance(x, (bool, str)):
        return str(x)
    x = float(x)
    if not math.isfinite(x):
        return str(x)
    if x == 0 or 1e-2 <= abs(x) < 1e5:
        return f"{x:.3f}"
    return f"{x:.3g}"


class AllClose(_Strict):
    value: float
    rtol: float = Field(default=1e-5, ge=0)
    atol: float = Field(default=1e-8, ge=0)


class Rule(_Strict):
    """Exactly one of min | max | range | equals | allclose."""

    min: float | None = None
    max: float | None = None
    range: tuple[float, float] | None = None
    equals: StrictBool | float | str | None = Field(default=None, union_mode="left_to_right")
    allclose: AllClose | None = None

    @model_validator(mode="before")
    @classmethod
    def _exactly_one(cls, data: Any) -> Any:
        if not isinstance(data, dict) or len(data) != 1 or next(iter(data)) not in RULE_KINDS:
            got = list(data) if isinstance(data, dict) else type(data).__name__
            raise PydanticCustomError(
                "rule_kind", "expected one of {kinds} (exactly one), got {got}",
                {"kinds": "|".join(RULE_KINDS), "got": str(got)},
            )
        return data

    @field_validator("range")
    @classmethod
    def _ordered(cls, value):
        if value is not None and value[0] > value[1]:
            raise _invalid(f"range [lo, hi] needs lo <= hi, got {list(value)}")
        return value

    @property
    def kind(self) -> str:
        return next(k for k in RULE_KINDS if getattr(self, k) is not None)

    def describe(self) -> str:
        """Human text of the rule: ``>= 0.950``."""
        kind = self.kind
        if kind == "min":
            return f">= {fmt_number(self.min)}"
        if kind == "max":
            return f"<= {fmt_number(self.max)}"
        if kind == "range":
            return f"in [{fmt_number(self.range[0])}, {fmt_number(self.range[1])}]"
        if kind == "equals":
            return f"== {fmt_number(self.equals)}"
        a = self.allclose
        return f"~= {fmt_number(a.value)} (rtol={a.rtol:g}, atol={a.atol:g})"

    def miss_reason(self, metric: str, value: float | int | bool | str) -> str | None:
        """None when ``value`` satisfies the rule, else the reason it does not."""
        v, kind = value, self.kind
        if kind == "equals":
            if _same_value(v, self.equals):
                return None
            return f"{metric} {fmt_number(v)} != {fmt_number(self.equals)} required"
        if isinstance(v, (bool, str)):
            return f"{metric} is {v!r}, a number is required"
        if kind == "min" and not v >= self.min:
            return f"{metric} {fmt_number(v)} < {fmt_number(self.min)} required"
        if kind == "max" and not v <= self.max:
            return f"{metric} {fmt_number(v)} > {fmt_number(self.max)} allowed"
        if kind == "range" and not self.range[0] <= v <= self.range[1]:
            return f"{metric} {fmt_number(v)} outside {self.describe()[3:]} required"
        if kind == "allclose":
            a = self.allclose
            if not abs(v - a.value) <= a.atol + a.rtol * abs(a.value):
                return f"{metric} {fmt_number(v)} not {self.describe()}"
        return None


def _same_value(a, b) -> bool:
    """Equality that keeps bools, strings and numbers apart (True is not 1)."""
    kinds = [bool if isinstance(x, bool) else str if isinstance(x, str) else float for x in (a, b)]
    return kinds[0] is kinds[1] and a == b


class Partial(_Strict):
    """Linear credit between ``floor`` (0 points) and the rule's bound (full points)."""

    floor: float


class BudgetSpec(_Strict):
    wall_seconds: PositiveFloat
    memory_mib: PositiveInt
    cpus: PositiveFloat = 1.0
    pids: PositiveInt = 64
    out_mib: PositiveInt = 64
    # wall_seconds as measured on this reference machine: scaled by this machine's speed factor
    reference_machine: str | None = None

    @field_validator("reference_machine")
    @classmethod
    def _known_machine(cls, name: str | None) -> str | None:
        from harness.calibrate import REFERENCE_MACHINES

        if name is not None and name not in REFERENCE_MACHINES:
            hint = difflib.get_close_matches(name, list(REFERENCE_MACHINES), n=1)
            raise _invalid(f"unknown reference machine {name!r}" + (f" (did you mean {hint[0]!r}?)" if hint
                           else "") + f"; expected one of {'|'.join(REFERENCE_MACHINES)}")
        return name


RESERVED_ENV = ("PATH", "HOME", "TMPDIR", "PYTHONPATH", "PYTHONHASHSEED", "PYTHONDONTWRITEBYTECODE",
                "PYTHONPYCACHEPREFIX", "HARNESS_OUT", "HARNESS_SEED",
                "HARNESS_PROFILE", "HARNESS_DATA_DIR", "HARNESS_IN", "OMP_NUM_THREADS",
                "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


class Profile(_Strict):
    args: list[str] = []
    env: dict[str, str] = {}
    expected_seconds: PositiveFloat
    budget: BudgetSpec

    @field_validator("env")
    @classmethod
    def _not_reserved(cls, env: dict[str, str]) -> dict[str, str]:
        taken = [k for k in env if k in RESERVED_ENV]
        if taken:
            names = ", ".join(taken)
            raise _invalid(f"{names} is set by the harness (docs/contracts.md §2); remove it from env")
        return env


class Seeds(_Strict):
    """A stochastic check: a run that misses the rule's bound by less than ``margin`` (relative to the
    bound) is repeated with the next seeds, up to ``n`` runs in all; the check passes when ``k`` pass."""

    n: int = Field(ge=2, le=10)
    k: int = Field(ge=1)
    margin: float = Field(gt=0, le=0.5)

    @model_validator(mode="after")
    def _k_below_n(self) -> Seeds:
        if self.k >= self.n:
            raise _invalid(f"k must be below n (a first run that missed could never be made up), "
                           f"got k={self.k}, n={self.n}")
        return self


class Check(_Strict):
    name: Identifier
    metric: str = Field(min_length=1)
    # Where the number comes from: ``host`` (computed on the host from the run's evidence by the
    # criterion's evidence kit) or ``self-reported`` (the script's own metric, or a file it wrote
    # scored on the host: either way a claim of the student's process).
    source: Literal["host", "self-reported"]
    trust: Literal["self-reported"] | None = None  # required for points on a self-reported check
    scorer: str | None = None
    artifact: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]+$")
    labels: str | None = Field(default=None, pattern=r"^[a-z0-9_]+:[a-z0-9_]+$")
    reference: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]+\.json$")
    rule: Rule
    profile_rules: dict[str, Rule] = {}
    partial: Partial | None = None
    # The profiles the check applies to (default: all). A check left out of the run's profile is
    # not judged, scores no points and does not appear in the report.
    profiles: list[ProfileName] | None = Field(default=None, min_length=1)
    points: float = Field(default=1.0, ge=0)
    visibility: Literal["visible", "hidden"] = "visible"
    explain: str | None = None
    # The course component this check probes directly (e.g. tinytorch.perf.memoization.enable_kv_cache):
    # when the check fails, the report's diagnosis names it.
    component: ModuleName | None = None
    seeds: Seeds | None = None  # rerun a near miss with other seeds; passes when k of n do

    @model_validator(mode="after")
    def _consistent(self) -> Check:
        artifact_fields = {"scorer": self.scorer, "artifact": self.artifact, "labels": self.labels,
                           "reference": self.reference}
        if any(v is not None for v in artifact_fields.values()):
            if self.source != "self-reported":
                raise PydanticCustomError(
                    "artifact_fields", "scorer/artifact/labels/reference score a file the script wrote: "
                    "only for source: self-reported", {})
            validation.scorer_inputs(self)
        if self.source == "self-reported" and self.points > 0 and self.trust != "self-reported":
            raise PydanticCustomError(
                "trust", "a self-reported check earns points only with `trust: self-reported` (its number "
                "comes from the student's own process): compute it on the host (source: host), give it "
                "points: 0, or mark it trust: self-reported", {})
        if self.trust is not None and self.source != "self-reported":
            raise _invalid("trust: self-reported is only for source: self-reported checks")
        for profile in self.profile_rules:
            if profile not in PROFILE_NAMES:
                raise PydanticCustomError(
                    "profile_name", "profile_rules: unknown profile {p!r}; expected one of {names}",
                    {"p": profile, "names": "|".join(PROFILE_NAMES)},
                )
            if not self.applies_to(profile):
                raise PydanticCustomError(
                    "profile_name", "profile_rules.{p}: the check does not apply to {p} (profiles: {ps})",
                    {"p": profile, "ps": ", ".join(self.profiles or [])},
                )
        if self.profiles is not None and len(set(self.profiles)) != len(self.profiles):
            raise _invalid(f"profiles lists a profile twice: {self.profiles}")
        if self.partial is not None:
            validation.partial(self.partial.floor, self.rule, "rule")
            for profile, rule in self.profile_rules.items():
                validation.partial(self.partial.floor, rule, f"profile_rules.{profile}")
        if self.seeds is not None:
            for where, rule in [("rule", self.rule)] + [(f"profile_rules.{p}", r)
                                                        for p, r in self.profile_rules.items()]:
                validation.seeds(rule, where)
        return self

    def rule_for(self, profile: str) -> Rule:
        return self.profile_rules.get(profile, self.rule)

    def applies_to(self, profile: str) -> bool:
        """Whether the check is judged in ``profile`` (every profile unless ``profiles`` says)."""
        return self.profiles is None or profile in self.profiles


class Criterion(_Strict):
    id: Identifier
    title: str = Field(min_length=1)
    script: str = Field(pattern=r"^[A-Za-z0-9_.-]+\.py$")
    milestone: str = Field(min_length=1)
    description: str | None = None
    requires: list[ModuleName] = []
    datasets: list[Identifier] = []
    evidence: Identifier | None = None  # the host's evidence kit for this extra (harness/evidence)
    profiles: dict[ProfileName, Profile]
    checks: list[Check] = Field(min_length=1)
    _source: Path | None = PrivateAttr(default=None)  # the file it was loaded from
    _lines: dict = PrivateAttr(default_factory=dict)  # YAML path tuple -> line number

    @property
    def source(self) -> Path | None:
        return self._source

    def where(self, *loc) -> str:
        """``file:line: field`` of a YAML path, for errors found after loading (e.g. script missing)."""
        return f"{display_path(self._source)}:{line_for(loc, self._lines)}: {loc_text(loc)}"

    @field_validator("profiles")
    @classmethod
    def _both_profiles(cls, profiles: dict) -> dict:
        missing = [p for p in PROFILE_NAMES if p not in profiles]
        if missing:
            raise _invalid(f"profiles needs {' and '.join(missing)} (each with expected_seconds and budget)")
        return profiles

    @field_validator("checks")
    @classmethod
    def _unique_names(cls, checks: list[Check]) -> list[Check]:
        names = [c.name for c in checks]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise _invalid(f"check names must be unique, repeated: {', '.join(duplicates)}")
        for profile in PROFILE_NAMES:
            if not any(c.applies_to(profile) for c in checks):
                raise _invalid(f"no check applies to the {profile} profile; every profile needs at least one "
                               "(see each check's profiles)")
        return checks

    @model_validator(mode="after")
    def _host_checks_have_a_kit(self) -> Criterion:
        from harness.evidence.registry import KITS  # imported late: kits need numpy

        host = [c for c in self.checks if c.source == "host"]
        if host and self.evidence is None:
            raise _invalid(f"checks {', '.join(c.name for c in host)} are source: host, so the criterion "
                           "needs `evidence: KIT` (the host's evidence kit, one of "
                           f"{'|'.join(sorted(KITS))})")
        if self.evidence is None:
            return self
        kit = KITS.get(self.evidence)
        if kit is None:
            raise _invalid(f"evidence: unknown kit {self.evidence!r}; expected one of "
                           f"{'|'.join(sorted(KITS))}")
        unknown = [c.metric for c in host if c.metric not in kit.metrics]
        if unknown:
            raise _invalid(f"evidence kit {kit.name!r} computes no {', '.join(unknown)}; it computes "
                           f"{', '.join(kit.metrics)}")
        return self

    def checks_for(self, profile: str) -> list[Check]:
        """The checks judged in ``profile``."""
        return [c for c in self.checks if c.applies_to(profile)]

    def max_score_for(self, profile: str) -> float:
        return sum(c.points for c in self.checks_for(profile))

    @property
    def max_score(self) -> float:
        """Points of the full profile (the default one)."""
        return self.max_score_for("full")


# --- where a YAML path is, for error messages ------------------------------------------------

def loc_text(loc: tuple) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def line_for(loc: tuple, lines: dict) -> int:
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return 1


def display_path(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
