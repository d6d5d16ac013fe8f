"""Plain-numpy references that the extras compare a student's layers against (float64)."""

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
    """Valid cross-correlation, stride 1: x (N,C,H,W), w (O,C,kh,kw) -> (N,O,H-kh+1,W-kw+1)."""
    n, _, h, wd = x.shape
    o, _, kh, kw = w.shape
    out = np.zeros((n, o, h - kh + 1, wd - kw + 1))
    for i in range(kh):
        for j in range(kw):
            patch = x[:, :, i:i + h - kh + 1, j:j + wd - kw + 1]  # (N,C,Ho,Wo)
            out += np.einsum("nchw,oc->nohw", patch, w[:, :, i, j])
    return out + b[None, :, None, None]


def conv2d_weight_grad(x: np.ndarray, grad_out: np.ndarray, kernel: tuple[int, int]) -> np.ndarray:
    """d loss / d w of :func:`conv2d`, given d loss / d out."""
    kh, kw = kernel
    ho, wo = grad_out.shape[2:]
    grad = np.zeros((grad_out.shape[1], x.shape[1], kh, kw))
    for i in range(kh):
        for j in range(kw):
            grad[:, :, i, j] = np.einsum("nchw,nohw->oc", x[:, :, i:i + ho, j:j + wo], grad_out)
    return grad


def maxpool2d(x: np.ndarray, k: int) -> np.ndarray:
    n, c, h, w = x.shape
    return x[:, :, :h // k * k, :w // k * k].reshape(n, c, h // k, k, w // k, k).max(axis=(3, 5))


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
