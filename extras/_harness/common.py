"""Small helpers every extra uses: arguments, seeding, Tensor-to-numpy."""

from __future__ import annotations

import argparse
import os
import random

import numpy as np

DEFAULT_SEED = 1337


def default_seed() -> int:
    """``$HARNESS_SEED`` when set by the harness, else 1337."""
    value = os.environ.get("HARNESS_SEED", "")
    try:
        return int(value) if value else DEFAULT_SEED
    except ValueError:
        raise SystemExit(f"HARNESS_SEED must be an integer, got {value!r}") from None


def parse_args(description: str = "", argv: list[str] | None = None,
               parser: argparse.ArgumentParser | None = None) -> argparse.Namespace:
    """Parse ``--quick`` and ``--seed`` (plus any arguments already added to ``parser``)."""
    parser = parser or argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true",
                        help="a short run (the harness's quick profile)")
    parser.add_argument("--seed", type=int, default=default_seed(),
                        help=f"random seed (default: $HARNESS_SEED or {DEFAULT_SEED})")
    args = parser.parse_args(argv)
    if os.environ.get("HARNESS_PROFILE") == "quick":
        args.quick = True
    return args


def seed_everything(seed: int) -> None:
    """Seed ``random``, numpy's global state and ``tinytorch.manual_seed`` if the package has it."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    try:
        import tinytorch
    except ImportError:
        return
    manual_seed = getattr(tinytorch, "manual_seed", None)
    if callable(manual_seed):
        manual_seed(seed)


def grad_of(param) -> np.ndarray | None:
    """A parameter's gradient as an ndarray (``.grad`` may hold an array or a Tensor), or None."""
    grad = getattr(param, "grad", None)
    return None if grad is None else to_numpy(grad)


def to_numpy(x) -> np.ndarray:
    """A Tensor, an ndarray, a Tensor stored in ``.grad``, or a list -> ndarray (no copy if possible)."""
    seen = 0
    while hasattr(x, "data") and not isinstance(x, np.ndarray):
        x = x.data
        seen += 1
        if seen > 4:
            raise TypeError("to_numpy: object has nested .data more than 4 levels deep")
    return np.asarray(x)
