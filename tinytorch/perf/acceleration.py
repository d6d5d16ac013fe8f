"""Acceleration kernels, as the course names them: vectorized_matmul, tiled_matmul, fused_gelu."""

from __future__ import annotations

import math

import numpy as np

from tinytorch.core.tensor import Tensor

DEFAULT_WARMUP_ITERATIONS = 2
DEFAULT_TIMING_ITERATIONS = 5
BYTES_PER_FLOAT32 = 4

_GELU_C = math.sqrt(2.0 / math.pi)
_GELU_K = 0.044715


def _check_matmul_shapes(where: str, a_shape: tuple, b_shape: tuple) -> None:
    if len(a_shape) < 2 or len(b_shape) < 2:
        raise ValueError(f"{where} requires 2D+ tensors, got shapes {a_shape} and {b_shape}")
    if a_shape[-1] != b_shape[-2]:
        raise ValueError(f"{where}: shape mismatch {a_shape} @ {b_shape}: inner dimensions "
                         f"{a_shape[-1]} != {b_shape[-2]}")


def vectorized_matmul(a, b) -> Tensor:
    """``a @ b`` as one BLAS call (batched, broadcasting); differentiable (the course's is not)."""
    a, b = (x if isinstance(x, Tensor) else Tensor(x) for x in (a, b))
    _check_matmul_shapes("vectorized_matmul", a.shape, b.shape)
    return a @ b


def tiled_matmul(a, b, tile_size=64) -> Tensor:
    """``a @ b`` computed block by block (``tile_size`` square tiles of the last two dims), the
    cache-blocking idea behind BLAS. Equal to ``a @ b`` up to float32 rounding; no gradient."""
    a_data = a.data if isinstance(a, Tensor) else np.asarray(a, dtype=np.float32)
    b_data = b.data if isinstance(b, Tensor) else np.asarray(b, dtype=np.float32)
    _check_matmul_shapes("tiled_matmul", a_data.shape, b_data.shape)
    if int(tile_size) != tile_size or tile_size < 1:
        raise ValueError(f"tiled_matmul: tile_size must be a positive int, got {tile_size!r}")
    m, k, n = a_data.shape[-2], a_data.shape[-1], b_data.shape[-1]
    batch = np.broadcast_shapes(a_data.shape[:-2], b_data.shape[:-2])
    out = np.zeros(batch + (m, n), dtype=np.float32)
    t = int(tile_size)
    for i in range(0, m, t):
        for j in range(0, n, t):
            block = out[..., i:i + t, j:j + t]
            for p in range(0, k, t):
                block += a_data[..., i:i + t, p:p + t] @ b_data[..., p:p + t, j:j + t]
    return Tensor._wrap(out)


def fused_gelu(x: Tensor) -> Tensor:
    """GELU, tanh approximation (the course's fused kernel), as ONE graph node with an analytic backward.

    y = 0.5 x (1 + tanh(c (x + 0.044715 x^3))), c = sqrt(2/pi).
    """
    x = x if isinstance(x, Tensor) else Tensor(x)
    v = x.data
    v2 = v * v  # v * v, not v**2 / v**3: numpy's float32 pow is much slower
    t = np.tanh(np.float32(_GELU_C) * v * (1 + np.float32(_GELU_K) * v2))
    out = np.float32(0.5) * v * (1 + t)

    def backward(grad_out: np.ndarray):
        du_dx = np.float32(_GELU_C) * (1 + np.float32(3 * _GELU_K) * v2)
        return (grad_out * (np.float32(0.5) * (1 + t) + np.float32(0.5) * v * (1 - t * t) * du_dx),)

    return Tensor._from_op(out, (x,), backward, "fused_gelu")
