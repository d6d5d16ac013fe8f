"""Finished (submission, extra) results on disk, so a rerun of ``harness grade`` skips them.

One JSON file per (submission, extra), written atomically (temporary file, fsync, rename) the
moment the job is judged: an interrupted batch loses only the jobs still running. A file is
reused only when everything the result depends on is unchanged (``CacheKey``); anything else
(an edited module the extra can import, an edited criterion or script, another image, profile or
seed, a corrupt file, a file of an older format) is a miss.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from harness.criteria import Criterion
from harness.provenance import combined_hash, criterion_file_hash, file_hash, tree_hash
from harness.report.model import ExtraResult
from harness.report.writer import atomic_write_text

# 2: the key's code_hash covers only the files the extra can import (format 1 hashed the package).
CACHE_FORMAT = 2


@dataclass(frozen=True)
class CacheKey:
    """Everything one extra's result depends on.

    ``code_hash`` is the hash of the submission's files the extra can import: the static import
    closure of its criterion's ``requires`` in the package (``harness.import_closure``), or the
    whole ``tinytorch/`` tree hash when that closure cannot be trusted (dynamic imports, a file that
    does not parse, data files in the package). Reports keep the whole-package hash."""

    code_hash: str  # harness.import_closure.PackageImports.hash(criterion.requires)
    criterion_hash: str  # criterion file + answer keys, its script, the extras' helpers, harness version
    backend: str  # backend name and image id
    profile: str
    seed: int


def criterion_hash(criterion: Criterion, extras_dir: Path, harness_version: str) -> str:
    """What can change one extra's verdict besides the submission: YAML, script, helpers, harness."""
    extras_dir = Path(extras_dir)
    parts = {"harness": harness_version,
             "criterion": criterion_file_hash(criterion) if criterion.source else criterion.model_dump_json()}
    script = extras_dir / criterion.script
    parts["script"] = file_hash(script) if script.is_file() else "missing"
    helpers = extras_dir / "_harness"
    parts["helpers"] = tree_hash(helpers) if helpers.is_dir() else "missing"
    return combined_hash(parts)


def is_cacheable(result: ExtraResult) -> bool:
    """Infrastructure failures are not the submission's result: they are retried on the next run."""
    return not (result.run.infra_error or result.reason.startswith("infrastructure error"))


class ResultCache:
    """``root/<submission>/<extra>.json`` holding ``{"format", "key", "result"}``."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def path(self, submission: str, extra_id: str) -> Path:
        return self.root / submission / f"{extra_id}.json"

    def load(self, submission: str, extra_id: str, key: CacheKey) -> ExtraResult | None:
        """The cached result when its key matches exactly, else None."""
        path = self.path(submission, extra_id)
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(stored, dict) or stored.get("format") != CACHE_FORMAT:
            return None
        if stored.get("key") != dataclasses.asdict(key):
            return None
        try:
            return ExtraResult.model_validate(stored.get("result"))
        except ValidationError:
            return None

    def store(self, submission: str, extra_id: str, key: CacheKey, result: ExtraResult) -> Path:
        record = {"format": CACHE_FORMAT, "key": dataclasses.asdict(key),
                  "result": result.model_dump(mode="json")}
        return atomic_write_text(self.path(submission, extra_id), json.dumps(record) + "\n")
