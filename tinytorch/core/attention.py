"""Scaled dot-product attention and multi-head self-attention, as the course defines them.

Masks are the course's: the scores get ``(1 - mask) * MASK_VALUE`` added, so a mask entry of 1
lets that query->key pair through and 0 blocks it (-1e9 before the softmax: a fully blocked row
gets uniform weights, never NaN). Masks broadcast against the (..., Tq, Tk) scores.
"""

from __future__ import annotations

import numpy as np

from tinytorch.core.activations import Softmax  # noqa: F401 (a name the course's module imports)
from tinytorch.core.layers import Layer, Linear
from tinytorch.core.tensor import Tensor, unbroadcast

MASK_VALUE = -1e9


def _as_tensor(x) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def _attention_weights(q: Tensor, k: Tensor, mask) -> Tensor:
    """softmax(Q K^T / sqrt(d) + (1 - mask) * MASK_VALUE) as one fused op."""
    scale = np.float32(1.0 / np.sqrt(q.shape[-1]))
    scores = (q.data @ np.swapaxes(k.data, -1, -2)) * scale
    if mask is not None:
        mask_data = mask.data if isinstance(mask, Tensor) else np.asarray(mask, dtype=np.float32)
        try:
            scores = scores + (1 - mask_data) * np.float32(MASK_VALUE)
        except ValueError:
            raise ValueError(f"attention mask of shape {mask_data.shape} does not broadcast to the scores "
                             f"(..., Tq, Tk) = {scores.shape}") from None
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights /= weights.sum(axis=-1, keepdims=True)

    def backward(grad):
        d_scores = weights * (grad - (grad * weights).sum(axis=-1, keepdims=True)) * scale
        grad_q = unbroadcast(d_scores @ k.data, q.shape) if q.requires_grad else None
        grad_k = unbroadcast(np.swapaxes(d_scores, -1, -2) @ q.data, k.shape) if k.requires_grad else None
        return grad_q, grad_k

    return Tensor._from_op(weights.astype(np.float32, copy=False), (q, k), backward, "attention_weights")


def scaled_dot_product_attention(Q, K, V, mask=None) -> tuple[Tensor, Tensor]:
    """softmax(Q K^T / sqrt(d_k)) V over the last two axes; returns (output, attention_weights).

    Q: (..., Tq, d), K: (..., Tk, d), V: (..., Tk, dv); both results are differentiable.
    """
    Q, K, V = _as_tensor(Q), _as_tensor(K), _as_tensor(V)
    if Q.ndim < 2 or Q.shape[-1] != K.shape[-1] or K.shape[-2] != V.shape[-2]:
        raise ValueError(f"attention shapes do not fit: Q {Q.shape}, K {K.shape}, V {V.shape}; "
                         "need Q (..., Tq, d), K (..., Tk, d), V (..., Tk, dv)")
    weights = _attention_weights(Q, K, mask)
    return weights.matmul(V), weights


def _split_heads(x: Tensor, num_heads: int) -> Tensor:
    """(B, T, D) -> (B, H, T, D/H) as one op (the course's reshape + transpose(1, 2))."""
    b, t, d = x.shape
    out = x.data.reshape(b, t, num_heads, d // num_heads).transpose(0, 2, 1, 3)
    return Tensor._from_op(out, (x,), lambda g: (g.transpose(0, 2, 1, 3).reshape(b, t, d),), "split_heads")


def _merge_heads(x: Tensor) -> Tensor:
    """(B, H, T, hd) -> (B, T, H*hd) as one op."""
    b, h, t, hd = x.shape
    out = x.data.transpose(0, 2, 1, 3).reshape(b, t, h * hd)
    return Tensor._from_op(out, (x,), lambda g: (g.reshape(b, t, h, hd).transpose(0, 2, 1, 3),),
                           "merge_heads")


class MultiHeadAttention(Layer):
    """Multi-head self-attention with ``q_proj``, ``k_proj``, ``v_proj``, ``out_proj`` (Linear D->D).

    ``forward(x (B, T, D), mask=None) -> (B, T, D)``; a (B, T, T) mask applies to every head.
    """

    def __init__(self, embed_dim, num_heads):
        if embed_dim % num_heads != 0:
            raise ValueError(f"embed_dim ({embed_dim}) must be divisible by num_heads ({num_heads})")
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        self.q_proj = Linear(embed_dim, embed_dim)
        self.k_proj = Linear(embed_dim, embed_dim)
        self.v_proj = Linear(embed_dim, embed_dim)
        self.out_proj = Linear(embed_dim, embed_dim)

    def forward(self, x, mask=None):
        x = _as_tensor(x)
        if x.ndim != 3 or x.shape[-1] != self.embed_dim:
            raise ValueError(f"MultiHeadAttention expects (batch, seq, {self.embed_dim}) input, "
                             f"got {x.shape}")
        q = _split_heads(self.q_proj.forward(x), self.num_heads)
        k = _split_heads(self.k_proj.forward(x), self.num_heads)
        v = _split_heads(self.v_proj.forward(x), self.num_heads)
        if mask is not None and mask.ndim == 3:
            mask = mask.reshape(mask.shape[0], 1, mask.shape[1], mask.shape[2])
        attended, _ = scaled_dot_product_attention(q, k, v, mask)
        return self.out_proj.forward(_merge_heads(attended))

    def parameters(self):
        return (self.q_proj.parameters() + self.k_proj.parameters() + self.v_proj.parameters()
                + self.out_proj.parameters())

    def __repr__(self):
        return f"MultiHeadAttention(embed_dim={self.embed_dim}, num_heads={self.num_heads})"
