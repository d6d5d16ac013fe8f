"""Why did it fail? After an extra did not pass, a second sandbox job probes its components.

``attach`` is called by ``Engine.run_task`` with the judged result. For a failed, crashed, timed
out or out-of-memory extra it draws small secret inputs for each course component the extra
depends on (``harness.evidence.diagnosis``), runs ``extras/_diagnose.py`` on them in the same
sandbox backend as the extra (its own small budget), and judges what comes back with numpy. The
result is ``ExtraResult.diagnosis``: the most likely component at fault with one sentence, or a
plain statement that none could be isolated (and why). Nothing here changes a verdict or a score.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
from pathlib import Path

import numpy as np

from harness import calibrate
from harness.evidence import EvidenceProblem
from harness.evidence import diagnosis as dx
from harness.evidence.arrays import load_evidence, write_inputs
from harness.evidence.secrets import active_secrets
from harness.judging.outfiles import remove_tree
from harness.judging.verdicts import printable
from harness.report.model import Diagnosis, ExtraResult
from harness.runners.base import Budget, Job, Runner, RunResult

DIAGNOSED = ("failed", "crashed", "timeout", "out_of_memory")
BUDGET = Budget(wall_seconds=60, memory_mib=1024, cpus=1, pids=64, out_mib=16)
BUDGET_MACHINE = "project-2core"  # BUDGET's wall time is stated there, scaled to this machine's speed


def _scaled(budget: Budget) -> Budget:
    """``budget`` with its wall time scaled from BUDGET_MACHINE to this machine (harness calibrate)."""
    wall = calibrate.scale_wall(budget.wall_seconds, BUDGET_MACHINE, calibrate.current())
    return dataclasses.replace(budget, wall_seconds=wall.seconds)


def _model(found: dx.Diagnosis) -> Diagnosis:
    return Diagnosis(component=found.component, summary=printable(found.summary),
                     faulty=[f"{f.module}.{f.name}" for f in found.findings if f.status == "faulty"],
                     skipped=[f.name for f in found.findings if f.status == "skipped"],
                     probed=[f.name for f in found.findings if f.status in ("ok", "faulty")])


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return printable(lines[-1][:200]) if lines else "no error output"


# extras/_harness modules that build models from the package's classes (their names count as used)
MODEL_HELPERS = ("lm", "mlp", "export")


def _script_text(extras_dir: Path, script: str) -> str:
    """The extra's source plus that of the model-building helpers it imports."""
    try:
        text = (extras_dir / script).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    for helper in MODEL_HELPERS:
        if re.search(rf"\b_harness(\.{helper}\b| import .*\b{helper}\b)", text):
            try:
                text += (extras_dir / "_harness" / f"{helper}.py").read_text(encoding="utf-8",
                                                                              errors="replace")
            except OSError:
                pass
    return text


def run_diagnosis(runner: Runner, job: Job, requires: list[str], script: str,
                  package_hash: str) -> dx.Diagnosis:
    """Probe the components behind ``requires`` in ``job``'s submission (its package hashed as
    ``package_hash``, which seeds the probes); never raises for the student."""
    names = dx.components_for(requires)
    if not names:
        return dx.unavailable("this extra depends on no course component the grader can probe")
    used = dx.used_by(_script_text(Path(job.extras_dir), script), names, requires)
    rng = np.random.default_rng(active_secrets().run_seed(job.criterion_id, "diagnosis", job.profile,
                                                          package_hash, str(job.seed)))
    public, drawn = dx.prepare(rng, names)
    inputs = write_inputs(public)
    probe = Job(job_id=f"{job.job_id}#diagnosis", criterion_id=job.criterion_id, script=dx.SCRIPT,
                extras_dir=job.extras_dir, submission_dir=job.submission_dir,
                args=("--components", ",".join(names)), budget=_scaled(BUDGET), inputs=inputs, seed=job.seed,
                profile=job.profile)
    run: RunResult | None = None
    try:
        run = runner.run(probe)
        if run.infra_error:
            return dx.unavailable(f"the diagnosis run could not be made ({run.infra_error})")
        try:
            evidence = load_evidence(run.out_dir)
        except EvidenceProblem as problem:
            return dx.unavailable(f"the diagnosis run's output could not be read ({problem})")
        found = dx.judge(names, drawn, evidence, used)
        if run.timed_out or run.oom_killed or run.exit_code != 0:
            how = ("timed out" if run.timed_out else "ran out of memory" if run.oom_killed
                   else f"stopped ({_last_line(run.stderr)})")
            if found.component is None:
                return dx.unavailable(f"the diagnosis run {how} before every component was probed"
                                      + (f"; {found.summary.split(': ', 1)[1]}" if found.findings else ""))
        return found
    except Exception as exc:  # the backend failed, not the student
        return dx.unavailable(f"the diagnosis run could not be made ({type(exc).__name__}: {exc})")
    finally:
        shutil.rmtree(inputs, ignore_errors=True)
        if run is not None and run.out_dir is not None:
            remove_tree(run.out_dir)


def attach(runner: Runner, job: Job, requires: list[str], script: str, result: ExtraResult,
           package_hash: str) -> ExtraResult:
    """``result`` with its diagnosis when it did not pass (unchanged otherwise)."""
    if result.verdict not in DIAGNOSED:
        return result
    direct = next((c for c in result.checks if c.verdict == "failed" and c.component), None)
    if direct is not None:  # the failed check itself probed one component: name it
        found = Diagnosis(component=direct.component, faulty=[direct.component],
                          summary=printable(f"`{direct.component}`: {direct.name} failed: {direct.reason}"))
        return result.model_copy(update={"diagnosis": found})
    found = run_diagnosis(runner, dataclasses.replace(job, inputs=None, datasets=()), requires, script,
                          package_hash)
    return result.model_copy(update={"diagnosis": _model(found)})
