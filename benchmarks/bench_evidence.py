"""What evidence costs the host: drawing a run's inputs and scoring its evidence, per extra.

    python benchmarks/bench_evidence.py                    # quick profile, reference, local backend
    python benchmarks/bench_evidence.py --profile full --extra cifar10_cnn

Runs each extra once (one job at a time) and prints a table: the sandbox run's wall time, the
host's preparation (``prepare_run``) and scoring (``EvidenceRun.score``, the held-out data already
loaded once, as in a batch) and their share of the run. The issue's target: under 5 % per extra.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from harness.commands.common import load_criteria  # noqa: E402
from harness.engine import Submission, _with_datasets, build_task, resolve_submission  # noqa: E402
from harness.evidence.runs import prepare_run  # noqa: E402
from harness.paths import CRITERIA_DIR, EXTRAS_DIR  # noqa: E402
from harness.runners.local import LocalRunner  # noqa: E402
from harness.runners.local.watchdog import remove_dir  # noqa: E402


def measure(criterion, profile: str, submission: Submission, seed: int) -> dict:
    task = build_task(submission, criterion, profile, seed, EXTRAS_DIR)
    job = _with_datasets(task.job, criterion.datasets)
    started = time.perf_counter()
    evidence = prepare_run(criterion, profile, submission.hash, seed)
    prepared = time.perf_counter() - started
    job = dataclasses.replace(job, inputs=evidence.inputs_dir, phases=evidence.sealed_dir)
    run = LocalRunner().run(job)
    try:
        evidence.score(run.out_dir, profile, run.phases)  # warm: held-out data loaded once per process
        started = time.perf_counter()
        evidence.score(run.out_dir, profile, run.phases)
        scored = time.perf_counter() - started
    finally:
        remove_dir(run.out_dir)
        evidence.close()
    return {"run": run.wall_seconds, "prepare": prepared, "score": scored}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick", choices=["quick", "full"])
    parser.add_argument("--extra", action="append", help="only these extras (repeatable)")
    parser.add_argument("--seed", type=int, default=1337)
    args = parser.parse_args()
    submission = resolve_submission(REPO, "reference")
    criteria = [c for c in load_criteria(CRITERIA_DIR).values()
                if c.evidence and (not args.extra or c.id in args.extra)]
    print(f"profile {args.profile}, local backend, reference package, one job at a time")
    print(f"{'extra':<18}{'run s':>9}{'prepare s':>11}{'score s':>9}{'host share':>12}")
    for criterion in criteria:
        row = measure(criterion, args.profile, submission, args.seed)
        share = (row["prepare"] + row["score"]) / row["run"]
        print(f"{criterion.id:<18}{row['run']:>9.2f}{row['prepare']:>11.3f}{row['score']:>9.3f}{share:>11.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
