"""``harness calibrate [--show]``: measure (or show) this machine's speed against the reference machine."""

from __future__ import annotations

import argparse
import json
import os

from harness import calibrate
from harness.commands.common import CommandError
from harness.paths import EXIT_INFRA, EXIT_OK, EXIT_USAGE


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "calibrate", help="time a fixed numpy workload and store this machine's speed factor",
        description="Times a fixed numpy workload (one BLAS thread, best of N trials) and stores this "
                    "machine's speed factor against the reference machine in the harness cache. Budgets "
                    "a criterion states for a reference machine (reference_machine:) are scaled by it. "
                    f"${calibrate.SPEED_ENV} overrides the stored factor.")
    parser.add_argument("--show", action="store_true", help="print the stored calibration; measure nothing")
    parser.add_argument("--repeats", type=int, default=calibrate.DEFAULT_REPEATS, metavar="N",
                        help="trials of the workload, the fastest counts (default: %(default)s)")
    parser.set_defaults(func=run)


def _speed_words(factor: float) -> str:
    """``1.23 (slower than the reference: its budgets grow)``, clamping said where it applies."""
    if abs(factor - 1) < 0.005:
        words = "as fast as the reference"
    elif factor > 1:
        words = f"{factor:.2f}x slower than the reference: budgets grow"
    else:
        words = f"{1 / factor:.2f}x faster than the reference: budgets shrink"
    low, high = calibrate.FACTOR_RANGE
    if not low <= factor <= high:
        words += f"; outside [{low:g}, {high:g}], so budgets are scaled by {min(max(factor, low), high):g}"
    return f"{factor:.3f} ({words})"


def _trials(record: dict) -> str:
    trials = record.get("trials", [])
    each = ", ".join(f"{t:.3f}" for t in trials)
    return f"best {record['workload_seconds']:.3f} s of {len(trials)} ({each})"


def _show() -> int:
    path = calibrate.calibration_path()
    record, problem = calibrate.load()
    if record is None:
        print(problem or f"not calibrated (no {path}): budgets stated for a reference machine are used as "
                         "they are (factor 1.0); run `harness calibrate`")
    else:
        print(f"calibration {path}, measured {record.get('measured_at')}")
        print(f"  workload: {_trials(record)}")
        if record.get("slowdown", 1.0) != 1.0:
            print(f"  deliberately slowed: {record['slowdown']:g}x the work ({calibrate.SLOWDOWN_ENV})")
        print("  machine: " + json.dumps(record.get("machine", {}), sort_keys=True))
    speed = calibrate.current()
    for name, ref in calibrate.REFERENCE_MACHINES.items():
        print(f"reference {name}: {ref.seconds:.3f} s on {ref.description}")
        print(f"  speed factor [{speed.source}]: {_speed_words(speed.factor_for(name))}")
    return EXIT_OK


def run(args: argparse.Namespace) -> int:
    try:
        if args.show:
            return _show()
        if args.repeats < 1:
            raise CommandError(f"--repeats must be at least 1, got {args.repeats}")
        print(f"timing the workload ({args.repeats} trials, one BLAS thread) ...", flush=True)
        record = calibrate.calibrate(args.repeats)
        path = calibrate.save(record)
    except calibrate.CalibrationError as exc:
        code = EXIT_INFRA if str(exc).startswith("the calibration workload") else EXIT_USAGE
        raise CommandError(str(exc), code) from None
    print(f"workload: {_trials(record)}")
    if record.get("slowdown", 1.0) != 1.0:
        slowdown = record["slowdown"]
        print(f"note: {calibrate.SLOWDOWN_ENV}={slowdown:g}: the workload did {slowdown:g}x the work "
              "(a simulated slower machine)")
    print(f"speed factor vs {record['reference_machine']} ({record['reference_seconds']:.3f} s): "
          f"{_speed_words(record['speed_factor'])}")
    print(f"stored in {path}")
    load, cpus = record["machine"].get("load_average", [0.0])[0], record["machine"].get("cpus", 1)
    if load > cpus:
        print(f"note: the machine was busy (load average {load:.1f} on {cpus} cores): CPU time moves less "
              "than wall time with load, but a factor measured idle is more accurate")
    if os.environ.get(calibrate.SPEED_ENV):
        print(f"note: ${calibrate.SPEED_ENV} is set and overrides this calibration")
    return EXIT_OK
