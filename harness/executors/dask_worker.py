"""What a Dask worker does for the harness: run one job on its own backend, and nothing else.

A task receives the job's public fields, the run's ``/in`` inputs (the arrays the sandbox is given
anyway), the submission's ``tinytorch/`` and the extras as tar bytes (each verified against the
tree hash the client computed), and the names of the datasets to mount; it builds the dataset
sandbox views from this machine's own verified cache (``harness.datasets.sandbox_view``), runs the
job with a backend of its own (docker by default) and returns the ``RunResult`` as a plain dict
plus ``/out`` as tar bytes, capped at the job's ``out_mib``. It never receives the probe key, answer
keys, held-out data or criteria thresholds, and it judges nothing: the client does.

The worker's owner decides which backends may run here: ``$HARNESS_WORKER_BACKENDS``
(comma-separated, default ``docker``); the local backend, which is no isolation, only when listed.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path

from harness import __version__
from harness.judging.outfiles import remove_tree
from harness.provenance import tree_hash
from harness.runners.base import Budget, Job, Runner, RunResult
from harness.runners.local.watchdog import remove_dir

from .transfer import MiB, TreeTooLarge, pack_tree, tar_cap, unpack_tree

BACKENDS_ENV = "HARNESS_WORKER_BACKENDS"
WORKER_DIR_ENV = "HARNESS_WORKER_DIR"
PACKAGE_CAP = 200 * MiB  # the intake's own limit on an extracted submission
EXTRAS_CAP = 200 * MiB
LAYOUT = "v1"  # of the worker directory: <kind>/<hex digest>/<tree>

_lock = threading.Lock()
_runners: dict[tuple[str, str], Runner] = {}  # (backend, batch id) -> runner


class WorkerRefused(Exception):
    """This worker cannot run the job (backend not allowed or unavailable, wrong image, bad bytes)."""


def allowed_backends() -> list[str]:
    raw = os.environ.get(BACKENDS_ENV, "docker")
    return [name.strip() for name in raw.split(",") if name.strip()]


def worker_dir() -> Path:
    default = Path(tempfile.gettempdir()) / f"harness-worker-{os.getuid()}"
    path = Path(os.environ.get(WORKER_DIR_ENV) or default)
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o755)  # bind-mounted sources below it must be readable by the sandbox user
    return path


def _host() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except Exception:  # noqa: BLE001 - outside a worker (tests call these functions directly)
        return socket.gethostname()


def runner_for(backend: str, batch: str) -> Runner:
    """This worker's runner for one batch (created once; dropped by ``close_batch``)."""
    from harness import backends

    if backend not in allowed_backends():
        allowed = ', '.join(allowed_backends()) or 'none'
        raise WorkerRefused(f"worker {_host()} does not run the {backend} backend (it allows {allowed}: "
                            f"set {BACKENDS_ENV} where the worker starts)")
    with _lock:
        runner = _runners.get((backend, batch))
        if runner is None:
            try:
                runner = backends.create(backend)
            except backends.BackendUnavailable as exc:
                raise WorkerRefused(f"worker {_host()}: {exc}") from None
            _runners[(backend, batch)] = runner
        return runner


_swept = [0.0]
SWEEP_SECONDS = 30.0


def _sweep_dead_workers_containers(runner: Runner) -> None:
    """At most every 30 s: remove this host's containers whose harness process is gone (a worker
    killed mid-job leaves its container idling; its task already runs elsewhere)."""
    client = getattr(runner, "_client", None)
    with _lock:
        if client is None or time.monotonic() - _swept[0] < SWEEP_SECONDS:
            return
        _swept[0] = time.monotonic()
    try:
        from harness.runners.docker.cleanup import sweep_orphans

        sweep_orphans(client)
    except Exception:  # noqa: BLE001 - housekeeping only
        pass


def describe_worker(backend: str, batch: str, datasets: list[str]) -> dict:
    """Preflight on this worker: the harness version, the backend's provenance (or why it cannot
    run here) and the dataset views' readiness. Never raises."""
    info: dict = {"worker": _host(), "harness": __version__, "backend": None, "problems": []}
    try:
        info["backend"] = runner_for(backend, batch).describe()
    except WorkerRefused as exc:
        info["problems"].append(str(exc))
    for name in datasets:
        try:
            from harness.datasets import sandbox_view

            sandbox_view(name)
        except Exception as exc:  # noqa: BLE001 - reported to the client, which refuses the batch
            info["problems"].append(f"worker {_host()}: dataset {name!r} not ready: {exc}")
    return info


def cancel_batch(batch: str) -> int:
    """Stop this batch's running jobs on this worker (the client was interrupted)."""
    with _lock:
        runners = [r for (_, b), r in _runners.items() if b == batch]
    for runner in runners:
        cancel = getattr(runner, "cancel", None)
        if cancel is not None:
            cancel()
    return len(runners)


def close_batch(batch: str) -> None:
    with _lock:
        for key in [k for k in _runners if k[1] == batch]:
            del _runners[key]


def materialize(kind: str, digest: str, data: bytes, *, subdir: tuple[str, ...], cap: int) -> Path:
    """``<worker dir>/<kind>/<digest>/<subdir...>``: the tree of ``data``, unpacked once per content
    and checked against ``digest`` (its ``tree_hash``); a mismatch is refused."""
    algorithm, _, hexdigest = digest.partition(":")
    plain = all(part and "/" not in part and part not in (".", "..") for part in subdir)
    if algorithm != "sha256" or not hexdigest.isalnum() or not subdir or not plain:
        raise WorkerRefused(f"malformed {kind} reference {digest!r}/{subdir!r}")
    subdir = Path(*subdir)
    base = worker_dir() / LAYOUT / kind
    base.mkdir(parents=True, exist_ok=True)
    for path in (base.parent, base):
        path.chmod(0o755)
    target = base / hexdigest
    if (target / subdir).is_dir():
        return target / subdir
    staging = Path(tempfile.mkdtemp(prefix=f".{hexdigest}-", dir=base))
    try:
        (staging / subdir).mkdir(parents=True)
        for parent in (staging / subdir).parents:
            if parent == staging:
                break
            parent.chmod(0o755)
        unpack_tree(data, staging / subdir, cap_bytes=tar_cap(cap), readable=True)
        staging.chmod(0o755)
        got = tree_hash(staging / subdir)
        if got != digest:
            raise WorkerRefused(f"the {kind} arrived with tree hash {got}, expected {digest}")
        try:
            os.rename(staging, target)
        except OSError:  # the content is here already (another thread, or the same package of
            # another student under its own name): add this name's copy beside it
            _move_into(staging / subdir, target, subdir)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target / subdir


def _move_into(source: Path, target: Path, subdir: Path) -> None:
    """Move ``source`` to ``target / subdir``, making the missing parents readable (0755); a copy
    that another thread put there first is as good."""
    for parent in reversed((target / subdir).parents):
        if not parent.is_relative_to(target) or parent.is_dir():
            continue
        parent.mkdir(exist_ok=True)
        parent.chmod(0o755)
    try:
        os.rename(source, target / subdir)
    except OSError:
        if not (target / subdir).is_dir():
            raise


def run_job(spec: dict, package: bytes, extras: bytes) -> dict:
    """Run one job here; ``{"result": RunResult fields, "out": tar bytes or None}``. Never raises:
    whatever stops the run on this worker is the result's ``infra_error`` (not cached, rerun later)."""
    job_fields = spec["job"]
    result = RunResult(job_id=job_fields["job_id"])
    out: bytes | None = None
    inputs_dir = sealed_dir = None
    try:
        if spec["harness"] != __version__:
            raise WorkerRefused(f"worker {_host()} runs harness {__version__}, the client {spec['harness']}: "
                                "install the same version on both")
        runner = runner_for(spec["backend"], spec["batch"])
        _sweep_dead_workers_containers(runner)
        image = runner.describe().get("image_id")
        if spec.get("image_id") and image != spec["image_id"]:
            raise WorkerRefused(f"worker {_host()} has grading image {image}, the batch runs "
                                f"{spec['image_id']}: "
                                "build the same image on every worker (`harness image build`)")
        package = materialize("packages", spec["package_digest"], package,
                              subdir=(spec["package_name"], "tinytorch"), cap=PACKAGE_CAP)
        extras_dir = materialize("extras", spec["extras_digest"], extras, subdir=("extras",), cap=EXTRAS_CAP)
        datasets = ()
        if spec["datasets"]:
            from harness.datasets import sandbox_view

            datasets = tuple((name, Path(sandbox_view(name))) for name in spec["datasets"])
        if spec.get("inputs") is not None:
            inputs_dir = Path(tempfile.mkdtemp(prefix="harness-in-"))
            unpack_tree(spec["inputs"], inputs_dir, cap_bytes=tar_cap(PACKAGE_CAP), readable=True)
        if spec.get("phases") is not None:  # host-only (0700): revealed into inputs_dir by the runner
            sealed_dir = Path(tempfile.mkdtemp(prefix="harness-sealed-"))
            unpack_tree(spec["phases"], sealed_dir, cap_bytes=tar_cap(PACKAGE_CAP))
        # The package is unpacked as <digest>/<name>/tinytorch: the run sees <name>/tinytorch as here.
        fields = {**job_fields, "budget": Budget(**job_fields["budget"]), "args": tuple(job_fields["args"]),
                  "env": tuple(tuple(pair) for pair in job_fields["env"])}
        job = Job(**fields, extras_dir=extras_dir, submission_dir=package.parent, datasets=datasets,
                  inputs=inputs_dir, phases=sealed_dir)
        result = runner.run(job)
        if result.out_dir is not None:
            try:
                out = pack_tree(result.out_dir, cap_bytes=job.budget.out_mib * MiB)
            except TreeTooLarge:
                result.out_problem = (f"/out is larger than its {job.budget.out_mib:.1f} MiB cap; "
                                      "not copied: write less to it")
                result.stderr += f"\n[harness: {result.out_problem}]"
    except WorkerRefused as exc:
        result.infra_error = str(exc)
    except Exception as exc:  # noqa: BLE001 - the worker's trouble, never the student's
        result.infra_error = f"worker {_host()} failed to run {result.job_id}: {type(exc).__name__}: {exc}"
    finally:
        if result.out_dir is not None:
            remove_dir(result.out_dir)
        for directory in (inputs_dir, sealed_dir):
            if directory is not None:
                remove_tree(directory)
    fields = dataclasses.asdict(result)
    fields["out_dir"] = None
    fields["backend"] = {**(fields.get("backend") or {}), "dask_worker": _host()}
    return {"result": fields, "out": out}


def identity(data: bytes) -> bytes:
    """A content-addressed data task: the scheduler keeps the bytes, so a lost copy is recomputed."""
    return data
