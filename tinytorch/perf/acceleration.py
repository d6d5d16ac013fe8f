"""Acceleration kernels: vectorised and cache-tiled matmul, a fused GELU, and im2col."""

from __future__ import annotations

import math

import numpy as np

from tinytorch.core.tensor import Tensor

_GELU_C = math.sqrt(2.0 / math.pi)
_GELU_K = 0.044715


def _as_tensor(x) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(np.asarray(x, dtype=np.float32))


def _check_matmul_shapes(where: str, a_shape: tuple, b_shape: tuple) -> None:
    if len(a_shape) < 2 or len(b_shape) < 2:
        raise ValueError(f"{where}: both operands need at least 2 dims, got {a_shape} and {b_shape}")
    if a_shape[-1] != b_shape[-2]:
        raise ValueError(
            f"{where}: inner dimensions differ: {a_shape} @ {b_shape} "
            f"({a_shape[-1]} != {b_shape[-2]}); transpose or reshape one operand"
        )


def vectorized_matmul(a, b) -> Tensor:
    """`a @ b` as one BLAS call (batched, broadcasting), differentiable through the Tensor graph."""
    a, b = _as_tensor(a), _as_tensor(b)
    _check_matmul_shapes("vectorized_matmul", a.shape, b.shape)
    return a @ b


def tiled_matmul(a, b, tile: int = 64) -> Tensor:
    """2-D `a @ b` computed block by block (`tile` x `tile`), the cache-blocking idea behind BLAS.

    Equal to `a @ b` up to float32 rounding. It is an illustration of tiling, not a training op:
    the result carries no gradient.
    """
    a_data, b_data = _as_tensor(a).data, _as_tensor(b).data
    if a_data.ndim != 2 or b_data.ndim != 2:
        raise ValueError(f"tiled_matmul: expects 2-D operands, got {a_data.shape} and {b_data.shape}")
    _check_matmul_shapes("tiled_matmul", a_data.shape, b_data.shape)
    if not isinstance(tile, int) or tile < 1:
        raise ValueError(f"tiled_matmul: tile must be a positive int, got {tile!r}")
    m, k = a_data.shape
    n = b_data.shape[1]
    out = np.zeros((m, n), dtype=np.float32)
    for i in range(0, m, tile):
        for j in range(0, n, tile):
            block = out[i : i + tile, j : j + tile]
            for p in range(0, k, tile):
                block += a_data[i : i + tile, p : p + tile] @ b_data[p : p + tile, j : j + tile]
    return Tensor(out)


def fused_gelu(x: Tensor) -> Tensor:
    """GELU (tanh approximation) as ONE graph node: forward and analytic backward in one op.

    y = 0.5 x (1 + tanh(c (x + 0.044715 x^3))), c = sqrt(2/pi). An unfused GELU built from
    elementwise Tensor ops records ~8 nodes and keeps their intermediates alive for backward.
    """
    x = _as_tensor(x)
    v = x.data
    v2 = v * v  # v * v, not v**2 / v**3: numpy's float32 pow is ~10x slower
    t = np.tanh(_GELU_C * v * (1.0 + _GELU_K * v2))
    out = 0.5 * v * (1.0 + t)

    def backward(grad_out: np.ndarray):
        du_dx = _GELU_C * (1.0 + 3.0 * _GELU_K * v2)
        dy_dx = 0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * du_dx
        return (grad_out * dy_dx,)

    return Tensor._from_op(out, (x,), backward, "fused_gelu")


def im2col(x, kernel_size, stride: int = 1, padding: int = 0) -> tuple[np.ndarray, tuple[int, int]]:
    """Unfold NCHW `x` into patch rows so a convolution becomes one GEMM.

    Returns `(cols, (h_out, w_out))` with `cols` shaped `(N*h_out*w_out, C*kh*kw)`, rows ordered
    (n, i, j) and columns (c, di, dj), so `cols @ W.reshape(C_out, -1).T` is the convolution for a
    weight `W` shaped (C_out, C, kh, kw). Uses a strided view: no Python loop over pixels.
    """
    data = x.data if isinstance(x, Tensor) else np.asarray(x, dtype=np.float32)
    if data.ndim != 4:
        raise ValueError(f"im2col: expects NCHW input with 4 dims, got shape {data.shape}")
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
    if stride < 1 or padding < 0:
        raise ValueError(f"im2col: need stride >= 1 and padding >= 0, got stride={stride}, padding={padding}")
    n, c, h, w = data.shape
    if h + 2 * padding < kh or w + 2 * padding < kw:
        raise ValueError(
            f"im2col: kernel {kh}x{kw} larger than padded input {h + 2 * padding}x{w + 2 * padding} "
            f"(input {data.shape}, padding {padding})"
        )
    if padding:
        data = np.pad(data, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    windows = np.lib.stride_tricks.sliding_window_view(data, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride]
    h_out, w_out = windows.shape[2], windows.shape[3]
    cols = windows.transpose(0, 2, 3, 1, 4, 5).reshape(n * h_out * w_out, c * kh * kw)
    return cols, (h_out, w_out)
