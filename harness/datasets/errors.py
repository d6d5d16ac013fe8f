"""Errors raised by the dataset cache; each message says which command fixes it."""

from __future__ import annotations


class DatasetError(Exception):
    """A dataset problem; ``exit_code`` follows the harness convention (2 usage, 3 infrastructure)."""

    exit_code = 3


class UnknownDatasetError(DatasetError):
    """A name that is not in the registry (a configuration error)."""

    exit_code = 2


class DatasetMissingError(DatasetError):
    """The dataset is not in the cache yet."""


class DatasetCorruptError(DatasetError):
    """A file is unreadable or its content hash does not match the registry."""


def fix_hint(name: str) -> str:
    """The commands that put a dataset into the cache."""
    return (f"run `harness data import {name} PATH` (offline, from a folder holding the files) "
            f"or `harness data fetch {name}` (download)")
