"""Machine-relative wall budgets: this machine's speed against a named reference machine.

``harness calibrate`` times a fixed numpy workload (``harness/speed_workload.py``, in a fresh
single-threaded process, best of N trials, CPU time: it hardly moves when other processes share the
cores, where wall time moved 3x here) and stores ``workload seconds / reference seconds`` in
the harness cache (``calibration.json``). A criterion's budget may say ``reference_machine: NAME``:
its ``wall_seconds`` are then as measured on that machine, and the runner enforces
``wall_seconds x factor`` (a slower machine has a factor above 1), the factor clamped to
``FACTOR_RANGE``. ``HARNESS_SPEED_FACTOR`` overrides the stored factor (tests, CI); never
calibrated, the factor is 1.0 and the commands say so in one line.

Imports nothing heavy: criteria validation reads ``REFERENCE_MACHINES`` from here.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import platform
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from harness.paths import cache_dir
from harness.report.model import RunInfo, WallBudget

# Bump when speed_workload.py changes what a trial does; stored calibrations of another version
# are ignored (with a note) and the reference times below must be measured again.
WORKLOAD_VERSION = 1
UNITS = 14  # units of work per trial (~0.5 s on the reference machine)
DEFAULT_REPEATS = 5
FACTOR_RANGE = (0.25, 4.0)  # beyond this a factor is more likely noise or misuse than speed
SPEED_ENV = "HARNESS_SPEED_FACTOR"
SLOWDOWN_ENV = "HARNESS_CALIBRATE_SLOWDOWN"  # tests: the workload does this many times the work
FILENAME = "calibration.json"
FORMAT = 1
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
_RECORDED_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_VERBOSE", "NPY_DISABLE_CPU_FEATURES")


class CalibrationError(ValueError):
    """The calibration could not be measured, or ``HARNESS_SPEED_FACTOR`` is not a positive number."""


@dataclass(frozen=True)
class ReferenceMachine:
    name: str
    seconds: float  # best-of-N CPU seconds of one trial of the workload (UNITS units) on that machine
    description: str


# project-2core measured with this workload version: 18 calibrations (best of 5 each) at load 1.9-3.4
# on the 2-core machine: best CPU seconds 0.498-0.547, median 0.51 (OPENBLAS_CORETYPE/L2_SIZE unset).
REFERENCE_MACHINES = {
    "project-2core": ReferenceMachine(
        "project-2core", 0.510,
        "this project's build machines: 2-core AMD EPYC (AVX-512), 24 GiB, Linux, Python 3.11, numpy 2.4 "
        "with OpenBLAS 0.3.31, one BLAS thread; the criteria's budgets were measured there"),
}
DEFAULT_REFERENCE = "project-2core"  # the one HARNESS_SPEED_FACTOR and `harness calibrate` print against


@dataclass(frozen=True)
class Speed:
    """This machine's speed factor against ``DEFAULT_REFERENCE``, where it came from, and any caveat."""

    factor: float
    source: str  # "calibration" | SPEED_ENV | "default"
    note: str | None = None  # one line for the user: never calibrated, stale or unreadable calibration

    def factor_for(self, reference: str) -> float:
        """The factor against ``reference`` (the same workload time over that machine's time)."""
        default, other = REFERENCE_MACHINES[DEFAULT_REFERENCE], REFERENCE_MACHINES[reference]
        return self.factor * default.seconds / other.seconds


def calibration_path() -> Path:
    return cache_dir() / FILENAME


# --- measuring ----------------------------------------------------------------------------------

def _slowdown(value: float | None) -> float:
    if value is None:
        raw = os.environ.get(SLOWDOWN_ENV)
        if not raw:
            return 1.0
        try:
            value = float(raw)
        except ValueError:
            raise CalibrationError(f"{SLOWDOWN_ENV}={raw!r} is not a number") from None
    if not (math.isfinite(value) and 0.1 <= value <= 100):
        raise CalibrationError(f"the workload slowdown must lie in [0.1, 100], got {value}")
    return value


def run_workload(repeats: int = DEFAULT_REPEATS, slowdown: float | None = None) -> dict:
    """Time the workload in a fresh process with one BLAS/OpenMP thread (what a job with ``cpus: 1``
    gets); ``slowdown`` (or ``$HARNESS_CALIBRATE_SLOWDOWN``) multiplies the work, to simulate a
    slower machine. Returns the workload's JSON: ``trials`` (CPU seconds each), ``wall_trials``,
    ``units``, ``numpy``, ``blas``."""
    if repeats < 1:
        raise CalibrationError(f"repeats must be at least 1, got {repeats}")
    slowdown = _slowdown(slowdown)
    units = max(1, round(UNITS * slowdown))
    env = {**os.environ, **dict.fromkeys(_THREAD_VARS, "1")}
    script = Path(__file__).with_name("speed_workload.py")
    try:
        done = subprocess.run([sys.executable, "-I", str(script), str(units), str(repeats)], env=env,
                              capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise CalibrationError("the calibration workload took more than 600 s") from None
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise CalibrationError(f"the calibration workload failed (exit code {done.returncode}): {tail}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["slowdown"] = slowdown
    return result


def machine_description(workload: dict | None = None) -> dict:
    """What the factor was measured on: CPU model, cores, memory, OS, Python, numpy and its BLAS,
    the OpenBLAS tuning variables, and the load at the time."""
    from harness.scheduler import machine_memory_mib

    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = machine_memory_mib()
    description = {
        "cpu": model, "cpus": os.cpu_count() or 1,
        "memory_gib": None if memory is None else round(memory / 1024, 1),
        "platform": platform.platform(), "python": platform.python_version(),
        "env": {k: os.environ[k] for k in _RECORDED_ENV if k in os.environ},
    }
    if workload:
        description.update(numpy=workload.get("numpy"), blas=workload.get("blas"))
    try:
        description["load_average"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        pass
    return description


def calibrate(repeats: int = DEFAULT_REPEATS, slowdown: float | None = None) -> dict:
    """Measure and return the calibration record (not stored: see ``save``)."""
    workload = run_workload(repeats, slowdown)
    best = min(workload["trials"])
    reference = REFERENCE_MACHINES[DEFAULT_REFERENCE]
    return {
        "format": FORMAT,
        "workload_version": WORKLOAD_VERSION,
        "measured_at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "workload_seconds": round(best, 4),
        "trials": [round(t, 4) for t in workload["trials"]],  # CPU seconds: the factor's basis
        "wall_trials": [round(t, 4) for t in workload.get("wall_trials", [])],
        "units": workload["units"],
        "slowdown": workload["slowdown"],
        "reference_machine": reference.name,
        "reference_seconds": reference.seconds,
        "speed_factor": round(best / reference.seconds, 4),
        "machine": machine_description(workload),
    }


def save(record: dict, path: Path | None = None) -> Path:
    from harness.report.writer import atomic_write_text

    return atomic_write_text(path or calibration_path(), json.dumps(record, indent=2) + "\n")


def load(path: Path | None = None) -> tuple[dict | None, str | None]:
    """(the stored calibration, None), or (None, why there is none usable)."""
    path = path or calibration_path()
    if not path.exists():
        return None, None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        seconds = float(record["workload_seconds"])
    except (OSError, ValueError, TypeError, KeyError):
        return None, f"the calibration in {path} is unreadable; run `harness calibrate` again"
    if record.get("format") != FORMAT or record.get("workload_version") != WORKLOAD_VERSION:
        return None, (f"the calibration in {path} is from another version of the workload; "
                      "run `harness calibrate` again")
    if not (math.isfinite(seconds) and seconds > 0):
        return None, f"the calibration in {path} holds no valid time; run `harness calibrate` again"
    return record, None


def current() -> Speed:
    """The speed factor commands use: ``$HARNESS_SPEED_FACTOR``, else the stored calibration, else 1.0."""
    raw = os.environ.get(SPEED_ENV)
    if raw:
        try:
            factor = float(raw)
        except ValueError:
            factor = float("nan")
        if not (math.isfinite(factor) and factor > 0):
            raise CalibrationError(f"{SPEED_ENV}={raw!r}: expected a positive number (this machine's "
                                   f"workload time over {DEFAULT_REFERENCE}'s, e.g. 2.0 for half as fast)")
        return Speed(factor, SPEED_ENV)
    record, problem = load()
    if record is None:
        note = problem or ("this machine was never calibrated: budgets stated for a reference machine are "
                           "used as they are (speed factor 1.0); run `harness calibrate` once")
        return Speed(1.0, "default", note)
    return Speed(float(record["workload_seconds"]) / REFERENCE_MACHINES[DEFAULT_REFERENCE].seconds,
                 "calibration")


def scale_wall(raw_seconds: float, reference: str, speed: Speed) -> WallBudget:
    """The budget the runner enforces for ``raw_seconds`` stated on ``reference``."""
    measured = speed.factor_for(reference)
    low, high = FACTOR_RANGE
    factor = min(max(measured, low), high)
    return WallBudget(reference_machine=reference, raw_seconds=raw_seconds, speed_factor=round(factor, 4),
                      seconds=round(raw_seconds * factor, 3), factor_source=speed.source,
                      unclamped_factor=None if factor == measured else round(measured, 4))


def budget_still_holds(run: RunInfo, wall: WallBudget | None) -> bool:
    """Whether a result judged under ``run.wall_budget`` stands under ``wall`` (``harness grade``
    reusing a cached result after a recalibration): a timeout stands if the budget did not grow,
    any other outcome if the run finished within the new budget."""
    old = run.wall_budget.seconds if run.wall_budget else None
    new = wall.seconds if wall else None
    if old == new:
        return True
    if old is None or new is None:
        return False
    return new <= old if run.timed_out else run.wall_seconds < new


def scaling_note(criteria, profile: str) -> str | None:
    """One line for the user when budgets of ``criteria`` (in ``profile``) are stated for a reference
    machine and the factor is a default, stale or clamped one; None when there is nothing to say.
    Raises ``CalibrationError`` for a malformed ``$HARNESS_SPEED_FACTOR``."""
    references = sorted({c.profiles[profile].budget.reference_machine for c in criteria
                         if c.profiles[profile].budget.reference_machine})
    if not references:
        return None
    speed = current()
    if speed.note:
        return speed.note
    clamped = [r for r in references if scale_wall(1.0, r, speed).unclamped_factor is not None]
    if clamped:
        low, high = FACTOR_RANGE
        return (f"this machine's speed factor against {', '.join(clamped)} lies outside [{low:g}, {high:g}] "
                "and was clamped: budgets are scaled by the bound (`harness calibrate --show`)")
    return None
