"""One run's evidence on the host: draw its inputs before it starts, score its evidence after."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.criteria import Criterion

from . import EvidenceProblem
from .arrays import load_evidence, write_inputs, write_sealed
from .kit import HostValue, Kit, Prepared, Timings
from .registry import KITS
from .secrets import active_secrets


@dataclass
class EvidenceRun:
    kit: Kit
    prepared: Prepared
    inputs_dir: Path  # mounted read-only at /in; removed by ``close``
    sealed_dir: Path | None = None  # host-only phase inputs (Job.phases); removed by ``close``

    def score(self, out_dir: Path | None, profile: str,
              timings: Timings | None = None) -> dict[str, HostValue]:
        """Every metric of the kit (``timings``: the runner's host-timed phases); a malformed
        evidence tree fails them all with its reason. Raises ``ScoringUnavailable`` when the host
        cannot score (its own data missing)."""
        try:
            evidence = load_evidence(out_dir)
        except EvidenceProblem as problem:
            return dict.fromkeys(self.kit.metrics, problem)
        values = self.kit.score(evidence, self.prepared, profile)
        if self.kit.timed is not None:
            values.update(self.kit.timed(evidence, self.prepared, profile, timings or {}))
        return values

    def close(self) -> None:
        shutil.rmtree(self.inputs_dir, ignore_errors=True)
        if self.sealed_dir is not None:
            shutil.rmtree(self.sealed_dir, ignore_errors=True)


def prepare_run(criterion: Criterion, profile: str, package_hash: str, seed: int) -> EvidenceRun | None:
    """Draw the run's secret inputs (None for a criterion without an evidence kit), seeded by the
    probe key, the extra, the profile, the submission's package hash and the seed."""
    if criterion.evidence is None:
        return None
    kit = KITS[criterion.evidence]
    run_seed = active_secrets().run_seed(criterion.id, profile, package_hash, str(seed))
    prepared = kit.prepare(np.random.default_rng(run_seed), profile)
    public = {**prepared.public, **{f"phase.{name}.sealed": np.ones(1) for name in prepared.sealed}}
    return EvidenceRun(kit, prepared, write_inputs(public),
                       write_sealed(prepared.sealed) if prepared.sealed else None)
