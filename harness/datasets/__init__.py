"""Datasets on the host: a registry, a verified cache, and what the sandbox may see.

The core calls ``sandbox_view(name)`` (a directory to mount read-only: the training split only)
and ``heldout_labels``/``heldout_split(name, split)`` (test images and labels only the host
reads). ``harness data ...`` manages
the cache through ``fetch``, ``import_from``, ``verify`` and ``list_status``.
"""

from .cache import cache_root, dataset_dir
from .errors import DatasetCorruptError, DatasetError, DatasetMissingError, UnknownDatasetError
from .registry import get, names
from .store import fetch, import_from, list_status, verify
from .view import heldout_labels, heldout_split, sandbox_view

__all__ = [
    "DatasetCorruptError", "DatasetError", "DatasetMissingError", "UnknownDatasetError",
    "cache_root", "dataset_dir", "fetch", "get", "heldout_labels", "heldout_split", "import_from",
    "list_status",
    "names", "sandbox_view", "verify",
]
