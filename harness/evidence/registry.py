"""Every evidence kit by name (a criterion's ``evidence:``): one static table, no dynamic imports."""

from __future__ import annotations

from .classic import KITS as CLASSIC_KITS
from .kit import Kit
from .language import KITS as LANGUAGE_KITS
from .profiling import KITS as PROFILING_KITS

KITS: dict[str, Kit] = {**CLASSIC_KITS, **LANGUAGE_KITS, **PROFILING_KITS}
