"""The sandbox environment contract (docs/contracts.md §2): the only variables a script sees.

Both backends build the environment here; the docker backend then swaps in the container's paths.
"""

from __future__ import annotations

import os
import site
from pathlib import Path

from harness.runners.base import Job


def _site_dirs() -> list[str]:
    """This interpreter's site-packages (numpy and the like), for a script started without ``site``."""
    return [d for d in dict.fromkeys(site.getsitepackages()) if Path(d).is_dir()]


def sandbox_env(job: Job, workdir: Path, out_dir: Path, data_dir: Path | None,
                pycache: Path | None = None, in_dir: Path | None = None) -> dict[str, str]:
    """The only variables the script sees (contracts §2), then the profile's own ``env``.

    Locally the script runs without ``site`` (``-S``), so the submission comes first on the path and
    the site-packages follow it; no ``.pth`` file runs, so an editable install of this project can
    never lend the reference's modules to a package that lacks them.
    """
    threads = str(max(1, int(job.budget.cpus)))
    env = {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "HOME": str(workdir),
        "TMPDIR": str(workdir),
        "LANG": "C.UTF-8",
        "HARNESS_OUT": str(out_dir),
        "HARNESS_SEED": str(job.seed),
        "HARNESS_PROFILE": job.profile,
        "PYTHONPATH": os.pathsep.join([str(Path(job.submission_dir).resolve()), *_site_dirs()]),
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        # Bytecode is looked up under this prefix only (an empty per-run dir locally, the image's
        # precompiled, read-only /opt/pycache in docker): a __pycache__ shipped with the
        # submission (say, an unchecked-hash .pyc of other source) is never run.
        "PYTHONPYCACHEPREFIX": str(pycache or workdir / ".pycache"),
        "PYTHONUNBUFFERED": "1",
        "OMP_NUM_THREADS": threads,
        "OPENBLAS_NUM_THREADS": threads,
        "MKL_NUM_THREADS": threads,
    }
    if data_dir is not None:
        env["HARNESS_DATA_DIR"] = str(data_dir)
    if job.inputs is not None:
        env["HARNESS_IN"] = str(in_dir or job.inputs)
    env.update(dict(job.env))
    return env
