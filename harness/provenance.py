"""What a grade depends on, hashed: criteria files, the submission tree, the machine."""

from __future__ import annotations

import hashlib
import os
import platform
from pathlib import Path

from harness.report.model import Machine
from harness.scheduler import machine_memory_mib

IGNORED_DIRS = {"__pycache__", ".git", ".pytest_cache", ".ipynb_checkpoints"}


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's contents, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_hash(path: Path) -> str:
    return "sha256:" + sha256_file(path)


def criterion_file_hash(criterion) -> str:
    """The criterion's YAML file hash, combined with what of the instructor's secrets can change its
    grades: its answer keys, its threshold overrides and (for an evidence kit) a fingerprint of the
    probe key. "unknown" for a criterion not loaded from a file."""
    from harness.evidence.secrets import active_secrets

    if criterion.source is None:
        return "unknown"
    secrets = active_secrets()
    parts = {"criterion": file_hash(criterion.source)}
    for name in sorted({c.reference for c in criterion.checks if getattr(c, "reference", None)}):
        path = secrets.references_dir / name
        parts[f"reference:{name}"] = file_hash(path) if path.is_file() else "missing"
    overrides = secrets.thresholds().get(criterion.id)
    if overrides:
        parts["thresholds"] = hashlib.sha256(repr(sorted(overrides.items())).encode()).hexdigest()
    if getattr(criterion, "evidence", None):
        parts["probe-key"] = hashlib.sha256(b"fingerprint\0" + secrets.probe_key()).hexdigest()[:16]
    return parts["criterion"] if len(parts) == 1 else combined_hash(parts)


def combined_hash(named_hashes: dict[str, str]) -> str:
    """One hash over ``name -> hash`` pairs, independent of their order."""
    digest = hashlib.sha256()
    for name in sorted(named_hashes):
        digest.update(f"{name}\0{named_hashes[name]}\n".encode())
    return "sha256:" + digest.hexdigest()


def tree_hash(root: Path) -> str:
    """Hash of sorted relative paths and file contents under ``root``, ignoring caches and .pyc."""
    root = Path(root)
    entries: dict[str, str] = {}
    for directory, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in IGNORED_DIRS]
        for filename in filenames:
            if filename.endswith((".pyc", ".pyo")):
                continue
            path = Path(directory) / filename
            relative = path.relative_to(root).as_posix()
            if path.is_symlink():
                entries[relative] = "symlink:" + os.readlink(path)
            elif path.is_file():
                entries[relative] = file_hash(path)
    return combined_hash(entries)


def machine_info() -> Machine:
    memory = machine_memory_mib()
    return Machine(
        cpus=os.cpu_count() or 1,
        memory_gib=None if memory is None else round(memory / 1024, 1),
        platform=platform.platform(),
        python=platform.python_version(),
    )
