"""Plain-numpy (float64) layers as the course defines them: the host's reference for every probe and model."""

from __future__ import annotations

import numpy as np


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def linear(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The course convention: weight shaped (in_features, out_features)."""
    return x @ w + b


def bce(p: np.ndarray, t: np.ndarray) -> float:
    return float(-np.mean(t * np.log(p) + (1 - t) * np.log(1 - p)))


def log_softmax(z: np.ndarray) -> np.ndarray:
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def cross_entropy(z: np.ndarray, ids: np.ndarray) -> float:
    return float(-log_softmax(z)[np.arange(len(ids)), ids].mean())


def cross_entropy_grad(z: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """d mean-CE / d logits."""
    grad = np.exp(log_softmax(z))
    grad[np.arange(len(ids)), ids] -= 1.0
    return grad / len(ids)


def conv2d(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Valid cross-correlation, stride 1: x (N,C,H,W), w (O,C,kh,kw) -> (N,O,H-kh+1,W-kw+1), in
    x's dtype (im2col: one column block per kernel tap, then one matrix product)."""
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    ho, wo = h - kh + 1, wd - kw + 1
    cols = np.empty((n, ho, wo, c, kh, kw), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, :, :, :, i, j] = x[:, :, i:i + ho, j:j + wo].transpose(0, 2, 3, 1)
    out = cols.reshape(n * ho * wo, -1) @ w.reshape(o, -1).T.astype(x.dtype)
    return out.reshape(n, ho, wo, o).transpose(0, 3, 1, 2) + b.astype(x.dtype)[None, :, None, None]


def conv2d_weight_grad(x: np.ndarray, grad_out: np.ndarray, kernel: tuple[int, int]) -> np.ndarray:
    """d loss / d w of :func:`conv2d`, given d loss / d out."""
    windows = np.lib.stride_tricks.sliding_window_view(x, tuple(kernel), axis=(2, 3))  # (N,C,Ho,Wo,kh,kw)
    return np.tensordot(grad_out, windows, axes=([0, 2, 3], [0, 2, 3]))  # (O,C,kh,kw)


def maxpool2d(x: np.ndarray, k: int) -> np.ndarray:
    n, c, h, w = x.shape
    return x[:, :, :h // k * k, :w // k * k].reshape(n, c, h // k, k, w // k, k).max(axis=(3, 5))


def maxpool2d_grad(x: np.ndarray, k: int, grad_out: np.ndarray) -> np.ndarray:
    """d loss / d x of :func:`maxpool2d` (ties share the gradient of their window), for even sizes."""
    n, c, h, w = x.shape
    windows = x.reshape(n, c, h // k, k, w // k, k)
    is_max = windows == maxpool2d(x, k)[:, :, :, None, :, None]
    return (is_max * grad_out[:, :, :, None, :, None]).reshape(x.shape)


def relative_error(actual, expected) -> float:
    """max |actual - expected| / max(max |expected|, 1e-6); inf when shapes differ or values are missing."""
    if actual is None:
        return float("inf")
    actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    if actual.shape != expected.shape:
        return float("inf")
    scale = max(float(np.max(np.abs(expected))) if expected.size else 0.0, 1e-6)
    error = float(np.max(np.abs(actual - expected))) / scale if expected.size else 0.0
    return error if np.isfinite(error) else float("inf")
