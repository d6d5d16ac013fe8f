"""The registered datasets, by name."""

from __future__ import annotations

from .base import Dataset
from .cifar10 import Cifar10
from .errors import UnknownDatasetError
from .mnist import Mnist

REGISTRY: dict[str, Dataset] = {ds.name: ds for ds in (Mnist(), Cifar10())}


def get(name: str) -> Dataset:
    """The dataset called ``name``, or a clear error listing the known names."""
    try:
        return REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(REGISTRY))
        raise UnknownDatasetError(f"unknown dataset {name!r}; known datasets: {known}") from None


def names() -> list[str]:
    return sorted(REGISTRY)
