"""Scaled dot-product attention and multi-head self-attention.

Mask convention (as in the TinyTorch course): a mask entry that is 0 / False BLOCKS that
query->key pair, any non-zero / True entry allows it. Blocked scores are set to -1e9 before the
softmax, so a row whose keys are all blocked gets uniform weights instead of NaN.
"""

from __future__ import annotations

import numpy as np

from tinytorch.core.layers import Layer, Linear
from tinytorch.core.tensor import Tensor, unbroadcast

__all__ = ["scaled_dot_product_attention", "MultiHeadAttention", "MASK_VALUE"]

MASK_VALUE = -1e9


def _as_tensor(x) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(np.asarray(x, dtype=np.float32))


def _as_mask(mask, scores_shape: tuple[int, ...]) -> np.ndarray | None:
    """Boolean "allowed" array broadcastable to the (..., Tq, Tk) scores."""
    if mask is None:
        return None
    data = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
    allowed = data != 0
    if allowed.ndim == 3 and len(scores_shape) == 4:
        allowed = allowed[:, None]  # (B, Tq, Tk) -> (B, 1, Tq, Tk): same mask for every head
    try:
        np.broadcast_shapes(allowed.shape, scores_shape)
    except ValueError:
        raise ValueError(f"attention mask of shape {data.shape} does not broadcast to the scores "
                         f"(..., Tq, Tk) = {scores_shape}; pass (Tq, Tk), (B, Tq, Tk) or (B, H, Tq, Tk)"
                         ) from None
    return allowed


def _attention_weights(q: Tensor, k: Tensor, mask) -> Tensor:
    """softmax(Q K^T / sqrt(d) with blocked pairs at -1e9) as one fused op."""
    scale = np.float32(1.0 / np.sqrt(q.shape[-1]))
    scores = (q.data @ np.swapaxes(k.data, -1, -2)) * scale
    allowed = _as_mask(mask, scores.shape)
    if allowed is not None:
        scores = np.where(allowed, scores, np.float32(MASK_VALUE))
    scores = scores - scores.max(axis=-1, keepdims=True)
    weights = np.exp(scores)
    weights /= weights.sum(axis=-1, keepdims=True)

    def backward(grad):
        d_scores = weights * (grad - (grad * weights).sum(axis=-1, keepdims=True)) * scale
        grad_q = unbroadcast(d_scores @ k.data, q.shape) if q.requires_grad else None
        grad_k = unbroadcast(np.swapaxes(d_scores, -1, -2) @ q.data, k.shape) if k.requires_grad else None
        return grad_q, grad_k

    return Tensor._from_op(weights.astype(np.float32), (q, k), backward, "attention_weights")


def _weighted_values(weights: Tensor, v: Tensor) -> Tensor:
    """weights @ V, batched, as one op."""
    out = weights.data @ v.data

    def backward(grad):
        grad_w = grad_v = None
        if weights.requires_grad:
            grad_w = unbroadcast(grad @ np.swapaxes(v.data, -1, -2), weights.shape)
        if v.requires_grad:
            grad_v = unbroadcast(np.swapaxes(weights.data, -1, -2) @ grad, v.shape)
        return grad_w, grad_v

    return Tensor._from_op(out, (weights, v), backward, "attention_values")


def scaled_dot_product_attention(Q, K, V, mask=None) -> tuple[Tensor, Tensor]:
    """softmax(Q K^T / sqrt(d_k)) V over the last two axes.

    Q: (..., Tq, d), K: (..., Tk, d), V: (..., Tk, dv); mask: broadcastable to (..., Tq, Tk),
    0/False = blocked. Returns (output (..., Tq, dv), attention_weights (..., Tq, Tk)); both
    are differentiable.
    """
    Q, K, V = _as_tensor(Q), _as_tensor(K), _as_tensor(V)
    if Q.data.ndim < 2 or Q.shape[-1] != K.shape[-1] or K.shape[-2] != V.shape[-2]:
        raise ValueError(f"attention shapes do not fit: Q {Q.shape}, K {K.shape}, V {V.shape}; "
                         "need Q (..., Tq, d), K (..., Tk, d), V (..., Tk, dv)")
    weights = _attention_weights(Q, K, mask)
    return _weighted_values(weights, V), weights


def _split_heads(x: Tensor, num_heads: int) -> Tensor:
    """(B, T, D) -> (B, H, T, D/H)."""
    b, t, d = x.shape
    out = x.data.reshape(b, t, num_heads, d // num_heads).transpose(0, 2, 1, 3)
    return Tensor._from_op(out, (x,), lambda g: (g.transpose(0, 2, 1, 3).reshape(b, t, d),), "split_heads")


def _merge_heads(x: Tensor) -> Tensor:
    """(B, H, T, hd) -> (B, T, H*hd)."""
    b, h, t, hd = x.shape
    out = x.data.transpose(0, 2, 1, 3).reshape(b, t, h * hd)
    return Tensor._from_op(out, (x,), lambda g: (g.reshape(b, t, h, hd).transpose(0, 2, 1, 3),),
                           "merge_heads")


class MultiHeadAttention(Layer):
    """Multi-head self-attention: q/k/v/out projections (Linear), all heads batched in one matmul.

    forward(x (B, T, D), mask=None) -> (B, T, D). For incremental decoding pass
    kv_cache (a tinytorch.perf.memoization.KVCache) and layer_idx: the new keys/values are
    appended to the cache and the queries attend over everything cached so far.
    The last attention weights are kept (as an ndarray) in `.attention_weights` (B, H, T, Tk).
    The cache is for inference: gradients do not flow into cached keys/values.
    """

    def __init__(self, embed_dim: int, num_heads: int):
        super().__init__()
        if num_heads < 1 or embed_dim % num_heads:
            raise ValueError(f"MultiHeadAttention: embed_dim {embed_dim} must be divisible by "
                             f"num_heads {num_heads}")
        self.embed_dim, self.num_heads = int(embed_dim), int(num_heads)
        self.head_dim = embed_dim // num_heads
        self.q_proj = Linear(embed_dim, embed_dim)
        self.k_proj = Linear(embed_dim, embed_dim)
        self.v_proj = Linear(embed_dim, embed_dim)
        self.out_proj = Linear(embed_dim, embed_dim)
        self.attention_weights = None

    def forward(self, x, mask=None, kv_cache=None, layer_idx: int = 0) -> Tensor:
        x = _as_tensor(x)
        if x.data.ndim != 3 or x.shape[-1] != self.embed_dim:
            raise ValueError(f"MultiHeadAttention expects (batch, seq, {self.embed_dim}) input, "
                             f"got {x.shape}")
        q = _split_heads(self.q_proj(x), self.num_heads)
        k = _split_heads(self.k_proj(x), self.num_heads)
        v = _split_heads(self.v_proj(x), self.num_heads)
        if kv_cache is not None:
            kv_cache.update(layer_idx, k.data, v.data)
            keys, values = kv_cache.get(layer_idx)
            k, v = Tensor(keys), Tensor(values)
        out, weights = scaled_dot_product_attention(q, k, v, mask)
        self.attention_weights = weights.data
        return self.out_proj(_merge_heads(out))

    def __repr__(self) -> str:
        return f"MultiHeadAttention(embed_dim={self.embed_dim}, num_heads={self.num_heads})"
