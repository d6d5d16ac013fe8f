"""The Dask executor, client side: prepare and judge here, run on a Dask worker.

``DaskExecutor.connect`` checks the cluster before anything runs (workers with enough ``CPU`` and
``MEMORY`` resources for the largest job, the same harness version and grading image everywhere,
datasets ready on each); its ``runner`` is a ``DaskRunner``, which the unchanged engine calls like
a local backend: ``run(job)`` ships the job to a worker and blocks until its result is back, with
``/out`` unpacked into a local directory that the engine judges and removes as usual.

What is shipped (see docs/distributed.md): the job's public fields; the run's ``/in`` arrays (the
sandbox's own inputs); the submission's ``tinytorch/`` and the extras directory as tar bytes, each
sent once per content as a small Dask task keyed by its tree hash (so a worker that dies is
replaced without losing them: the scheduler recomputes the task, unlike scattered data). The probe
key, answer keys, held-out data and thresholds stay here, and so does every verdict.

Faults: a worker that dies mid-job has its task rescheduled by Dask onto another worker; the
client sees one result per future, and results are recorded by the client only (``harness.grade``),
so none is recorded twice. A lost scheduler raises ``ClusterLost`` (exit 3, cache kept).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
import time
import uuid
from pathlib import Path

from harness import __version__
from harness.criteria import Criterion
from harness.judging.outfiles import OutProblem
from harness.provenance import tree_hash
from harness.runners.base import Job, RunResult
from harness.runners.docker.out import NoTarStream
from harness.runners.local.watchdog import WATCHDOG, remove_dir
from harness.scheduler import run_parallel

from . import ClusterLost
from . import dask_worker as worker
from .transfer import MiB, pack_tree, tar_cap

CPU, MEMORY = "CPU", "MEMORY"  # the worker resources a job requests: its cpus, its memory in bytes
CONNECT_SECONDS = 20.0
NO_WORKER_SECONDS = 120.0  # a job no live worker can take for this long ends the batch (exit 3)
PREFLIGHT_SECONDS = 300.0  # building a dataset view on a fresh worker can take a while


class ExecutorUnavailable(Exception):
    """The cluster cannot run this batch (unreachable, no fitting worker, mismatched workers)."""


def job_resources(cpus: float, memory_mib: int) -> dict[str, float]:
    return {CPU: float(cpus), MEMORY: float(memory_mib) * MiB}


def _fits(resources: dict, need: dict[str, float]) -> bool:
    return all(resources.get(name, 0) >= amount for name, amount in need.items())


class DaskRunner:
    """A ``Runner`` whose ``run`` executes the job on a Dask worker (see the module docstring)."""

    name = "dask"

    def __init__(self, client, backend: str, batch: str):
        self.client = client
        self.backend = backend
        self.batch = batch
        self.expected: dict = {}  # the workers' backend provenance (from the preflight)
        self._lock = threading.Lock()
        self._trees: dict[tuple[str, str], object] = {}  # (kind, digest) -> future of the bytes
        self._live: set = set()
        self._cancelled = threading.Event()
        self.no_worker_seconds = NO_WORKER_SECONDS
        self._fitting_checked = 0.0
        self._fitting: list[dict] = []  # resources of the live workers, refreshed every few seconds
        self._unfit_since: dict[tuple, float] = {}

    def _check_fitting(self, need: dict[str, float]) -> None:
        """ClusterLost when no live worker has had the resources ``need`` for ``no_worker_seconds``
        (every fitting worker died or left): the job would wait for ever."""
        now = time.monotonic()
        with self._lock:
            if now - self._fitting_checked > 5.0:
                self._fitting_checked = now
                try:
                    workers = self.client.scheduler_info(n_workers=-1)["workers"].values()
                    self._fitting = [w.get("resources") or {} for w in workers]
                except Exception:  # noqa: BLE001 - the loss of the scheduler is noticed elsewhere
                    return
            key = tuple(sorted(need.items()))
            if any(_fits(r, need) for r in self._fitting):
                self._unfit_since.pop(key, None)
                return
            since = self._unfit_since.setdefault(key, now)
        if now - since > self.no_worker_seconds:
            raise ClusterLost(f"no Dask worker at {self.client.scheduler.address} has had the resources "
                              f"{CPU}={need[CPU]:g}, {MEMORY}={need[MEMORY]:.0f} for "
                              f"{self.no_worker_seconds:.0f} s: start one (docs/distributed.md)")

    def available(self) -> tuple[bool, str]:
        return self.client.status == "running", f"Dask scheduler {self.client.scheduler.address}"

    def describe(self) -> dict:
        return {**self.expected, "backend": self.backend, "executor": "dask",
                "scheduler": self.client.scheduler.address}

    def _tree(self, kind: str, root: Path, *, skip_bytecode: bool, cap: int) -> tuple[str, object]:
        """(tree hash, future of the tree's tar bytes): packed and submitted once per content."""
        digest = tree_hash(root)
        with self._lock:
            future = self._trees.get((kind, digest))
            if future is None:
                data = pack_tree(root, cap_bytes=cap, skip_bytecode=skip_bytecode)
                future = self.client.submit(worker.identity, data, key=f"harness-{kind}-{digest}", pure=False)
                self._trees[(kind, digest)] = future
        return digest, future

    def spec(self, job: Job) -> tuple[dict, object, object]:
        package_digest, package = self._tree("package", Path(job.submission_dir) / "tinytorch",
                                             skip_bytecode=True, cap=worker.PACKAGE_CAP)
        extras_digest, extras = self._tree("extras", Path(job.extras_dir), skip_bytecode=True,
                                           cap=worker.EXTRAS_CAP)
        inputs = None
        if job.inputs is not None:
            inputs = pack_tree(Path(job.inputs), cap_bytes=worker.PACKAGE_CAP)
        phases = None
        if job.phases is not None:  # sealed: the worker's runner reveals them during the run
            phases = pack_tree(Path(job.phases), cap_bytes=worker.PACKAGE_CAP)
        fields = {"job_id": job.job_id, "criterion_id": job.criterion_id, "script": job.script,
                  "args": list(job.args), "env": [list(pair) for pair in job.env],
                  "budget": dataclasses.asdict(job.budget), "seed": job.seed, "profile": job.profile}
        spec = {"batch": self.batch, "backend": self.backend, "harness": __version__,
                "image_id": self.expected.get("image_id"), "job": fields,
                "package_digest": package_digest, "package_name": Path(job.submission_dir).name,
                "extras_digest": extras_digest, "datasets": [name for name, _ in job.datasets],
                "inputs": inputs, "phases": phases}
        return spec, package, extras

    def run(self, job: Job) -> RunResult:
        started = time.time()

        def infra(message: str) -> RunResult:
            return RunResult(job_id=job.job_id, infra_error=message, started_at=started,
                             finished_at=time.time(), backend=self.describe())

        if self._cancelled.is_set():
            return infra("not run: the harness was interrupted before this job started")
        spec, package, extras = self.spec(job)
        future = self.client.submit(
            worker.run_job, spec, package, extras, key=f"harness-run-{job.job_id}-{uuid.uuid4().hex[:8]}",
            resources=job_resources(job.budget.cpus, job.budget.memory_mib), pure=False, retries=0)
        with self._lock:
            self._live.add(future)
        try:
            payload = self._wait(future, job_resources(job.budget.cpus, job.budget.memory_mib))
        except _Stopped as stopped:
            return infra(str(stopped))
        finally:
            with self._lock:
                self._live.discard(future)
            future.release()
        return self._take(job, payload)

    def _lost(self) -> bool:
        return self.client.status not in ("running", "newly-created")

    def _wait(self, future, need: dict[str, float]) -> dict:
        from distributed import KilledWorker
        from distributed.client import FutureCancelledError

        while True:
            try:
                return future.result(timeout=0.5)
            except TimeoutError:
                if self._cancelled.is_set():
                    future.cancel()
                    raise _Stopped("stopped: the harness was interrupted while this job ran") from None
                if self._lost():
                    raise ClusterLost(f"lost the Dask scheduler at {self.client.scheduler.address}") from None
                self._check_fitting(need)
            except FutureCancelledError as exc:
                if self._cancelled.is_set():
                    raise _Stopped("stopped: the harness was interrupted while this job ran") from None
                if self._lost() or "scheduler-connection-lost" in str(exc):
                    raise ClusterLost(f"lost the Dask scheduler at {self.client.scheduler.address}") from None
                raise _Stopped(f"the Dask scheduler cancelled this job: {exc}") from None
            except KilledWorker as exc:
                raise _Stopped(f"every Dask worker that tried this job died ({exc}); it is not the "
                               "submission's result: rerun to retry") from None
            except Exception as exc:  # noqa: BLE001 - the worker could not even start the task
                if self._lost():
                    raise ClusterLost(f"lost the Dask scheduler at {self.client.scheduler.address}") from None
                raise _Stopped(f"the Dask task failed: {type(exc).__name__}: {exc}") from None

    def _take(self, job: Job, payload: dict) -> RunResult:
        """The worker's result, with its /out bytes written to a local directory (as a local run's)."""
        result = RunResult(**payload["result"])
        data = payload.get("out")
        if data is None or result.infra_error:
            return result
        out_dir = WATCHDOG.make_dir("harness-out-")
        try:
            from .transfer import unpack_tree

            unpack_tree(data, out_dir, cap_bytes=tar_cap(job.budget.out_mib * MiB))
        except OutProblem as exc:
            remove_dir(out_dir)
            result.out_problem = str(exc)
            result.stderr += f"\n[harness: {exc}]"
            return result
        except (NoTarStream, OSError) as exc:
            remove_dir(out_dir)
            result.infra_error = f"the /out copy from the Dask worker could not be unpacked: {exc}"
            return result
        result.out_dir = out_dir
        return result

    def cancel(self) -> None:
        """Stop the batch: queued and running tasks are cancelled, and each worker stops this
        batch's running jobs (best effort: the scheduler may be gone)."""
        self._cancelled.set()
        with self._lock:
            live = list(self._live)
        try:
            if live:
                self.client.cancel(live)
            if not self._lost():
                self.client.run(worker.cancel_batch, self.batch, wait=True, on_error="return")
        except Exception:  # noqa: BLE001 - a dead scheduler cannot be asked for anything
            pass


class _Stopped(Exception):
    """This one job did not run to a result (cancelled, worker trouble): its infrastructure error."""


class DaskExecutor:
    """Runs a batch's jobs on a Dask cluster; preparing inputs and judging stay in this process."""

    name = "dask"

    def __init__(self, client, backend: str, in_flight: int):
        self.client = client
        self.batch = uuid.uuid4().hex
        self.runner = DaskRunner(client, backend, self.batch)
        self.in_flight = in_flight

    @classmethod
    def connect(cls, address: str, backend: str, criteria: list[Criterion], profile: str,
                jobs: int | None = None, *, connect_seconds: float | None = None,
                preflight_seconds: float = PREFLIGHT_SECONDS) -> DaskExecutor:
        try:
            from distributed import Client
        except ImportError as exc:
            raise ExecutorUnavailable(f"--dask-scheduler needs dask[distributed] ({exc}): "
                                      "pip install 'tinytorch-harness[dask]'") from None
        try:
            client = Client(address, timeout=connect_seconds or CONNECT_SECONDS, set_as_default=False)
        except Exception as exc:  # noqa: BLE001 - OSError, TimeoutError, bad address...
            raise ExecutorUnavailable(f"cannot reach the Dask scheduler at {address}: {exc}; start one with "
                                      "`dask scheduler` (docs/distributed.md)") from None
        try:
            executor = cls(client, backend, in_flight=1)
            slots = executor.preflight(criteria, profile, preflight_seconds)  # always: it checks the workers
            executor.in_flight = jobs or slots
        except BaseException:
            client.close()
            raise
        return executor

    def preflight(self, criteria: list[Criterion], profile: str, timeout: float) -> int:
        """Check the workers; return how many jobs to keep in flight (twice the fitting slots)."""
        budgets = [c.profiles[profile].budget for c in criteria]
        need = job_resources(max((b.cpus for b in budgets), default=1),
                             max((b.memory_mib for b in budgets), default=1))
        workers = self.client.scheduler_info(n_workers=-1)["workers"]
        address = self.client.scheduler.address
        if not workers:
            raise ExecutorUnavailable(f"the Dask scheduler at {address} has no workers: start some with "
                                      f"`dask worker {address} --resources CPU=N,MEMORY=BYTES` "
                                      "(docs/distributed.md)")
        fitting = {a: w for a, w in workers.items() if _fits(w.get("resources") or {}, need)}
        if not fitting:
            declared = "; ".join(f"{a}: {w.get('resources') or 'none'}" for a, w in workers.items())
            raise ExecutorUnavailable(
                f"no Dask worker at {address} declares the resources the largest job needs "
                f"({CPU}={need[CPU]:g}, {MEMORY}={need[MEMORY]:.0f} bytes); workers declare: {declared}. "
                f"Start workers with --resources {CPU}=N,{MEMORY}=BYTES (docs/distributed.md)")
        datasets = sorted({d for c in criteria for d in c.datasets})
        futures = [self.client.submit(worker.describe_worker, self.runner.backend, self.batch, datasets,
                                      workers=[a], allow_other_workers=False, pure=False,
                                      key=f"harness-preflight-{self.batch}-{i}")
                   for i, a in enumerate(fitting)]
        problems, described = [], {}
        for a, future in zip(fitting, futures, strict=True):
            try:
                info = future.result(timeout=timeout)
            except Exception as exc:  # noqa: BLE001 - e.g. the worker has no harness installed
                problems.append(f"worker {a}: cannot run harness tasks: {type(exc).__name__}: {exc}")
                continue
            if info["harness"] != __version__:
                problems.append(f"worker {a} runs harness {info['harness']}, this client {__version__}")
            problems.extend(info["problems"])
            if info["backend"] is not None:
                described[a] = info["backend"]
        images = {d.get("image_id") for d in described.values()}
        if len(images) > 1:
            images_by_worker = "; ".join(f"{a}: {d.get('image_id')}" for a, d in described.items())
            problems.append(f"the workers have different grading images: {images_by_worker} "
                            "(build the same image everywhere)")
        if problems:
            raise ExecutorUnavailable("the Dask cluster cannot run this batch:\n  " + "\n  ".join(problems))
        first = next(iter(described.values()))
        self.runner.expected = {k: first[k] for k in ("image", "image_id", "lock_hash", "engine",
                                                      "isolation") if k in first}
        slots = sum(min(math.floor(w["resources"][CPU] / max(need[CPU], 1e-9)),
                        math.floor(w["resources"][MEMORY] / need[MEMORY])) for w in fitting.values())
        return max(2, 2 * slots)

    def map(self, items, work, *, expected_seconds, on_error, on_result=None, cancel=None):
        """Client threads each take a task from input preparation to judging; the run itself waits
        on the cluster, so the number of threads only bounds how many jobs are queued there."""
        return run_parallel(items, work, jobs=self.in_flight, expected_seconds=expected_seconds,
                            on_error=on_error, on_result=on_result, cancel=cancel)

    def describe(self) -> dict:
        return {"executor": self.name, "scheduler": self.client.scheduler.address,
                "in_flight": self.in_flight}

    def close(self) -> None:
        if self.runner._lost():  # reconnecting in vain: its traceback would only bury our message
            logging.getLogger("distributed.client").setLevel(logging.CRITICAL)
        else:
            try:
                self.client.run(worker.close_batch, self.batch, on_error="return")
            except Exception:  # noqa: BLE001 - best effort: the runners are dropped anyway
                pass
        try:
            self.client.close(timeout=5)
        except Exception:  # noqa: BLE001
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
