"""The one random source of tinytorch: initialisers, Dropout and DataLoader shuffling draw from it."""

from __future__ import annotations

import numpy as np

DEFAULT_SEED = 0
_generator = np.random.default_rng(DEFAULT_SEED)


def manual_seed(seed: int) -> None:
    """Reseed the generator returned by ``rng()`` (same seed -> same weights, masks, shuffles)."""
    global _generator
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"manual_seed: seed must be a non-negative integer, got {seed!r}")
    _generator = np.random.default_rng(int(seed))


def rng() -> np.random.Generator:
    """The current generator. Call it at each use: ``manual_seed`` replaces it."""
    return _generator
