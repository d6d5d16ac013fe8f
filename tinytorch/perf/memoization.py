"""KV cache, as the course defines it: remember each layer's keys and values so that generating a
token computes only that token.

Protocol (the course's): ``cache = enable_kv_cache(model)`` patches the model; the caller then
feeds ONE token per ``model.forward(tokens)`` (shape (batch, 1)) and calls ``cache.advance()``
after each. A longer input runs the normal, uncached forward. ``disable_kv_cache(model)`` undoes
the patch. Unlike the course's solution, the cached logits equal a full recomputation: the first
token is stored too, the new token attends to itself as well as the past, each layer uses its own
block, and the position embedding of the new token is the cache position.
"""

from __future__ import annotations

import numpy as np

from tinytorch.core.tensor import Tensor

BYTES_PER_FLOAT32 = 4
MB_TO_BYTES = 1024 * 1024


class KVCache:
    """``caches[layer] = (keys, values)``: Tensors (batch, heads, max_seq_len, head_dim), filled up to
    ``seq_pos``."""

    def __init__(self, batch_size, max_seq_len, num_layers, num_heads, head_dim):
        self.batch_size = batch_size
        self.max_seq_len = max_seq_len
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.head_dim = head_dim
        self.seq_pos = 0
        shape = (batch_size, num_heads, max_seq_len, head_dim)
        self.caches = [(Tensor(np.zeros(shape)), Tensor(np.zeros(shape))) for _ in range(num_layers)]

    def _check_layer(self, layer_idx) -> None:
        if layer_idx >= self.num_layers:
            raise ValueError(f"Layer index {layer_idx} >= num_layers {self.num_layers}")

    def update(self, layer_idx, key, value) -> None:
        """Store one position's key and value (batch, heads, 1, head_dim) at ``seq_pos``."""
        self._check_layer(layer_idx)
        if self.seq_pos >= self.max_seq_len:
            raise ValueError(f"Sequence position {self.seq_pos} >= max_seq_len {self.max_seq_len}")
        key_cache, value_cache = self.caches[layer_idx]
        key_cache.data[:, :, self.seq_pos:self.seq_pos + 1, :] = key.data
        value_cache.data[:, :, self.seq_pos:self.seq_pos + 1, :] = value.data

    def get(self, layer_idx):
        """Copies of the keys and values of positions 0 .. seq_pos - 1 (the ones already advanced past)."""
        self._check_layer(layer_idx)
        key_cache, value_cache = self.caches[layer_idx]
        return (Tensor(key_cache.data[:, :, :self.seq_pos, :]),
                Tensor(value_cache.data[:, :, :self.seq_pos, :]))

    def advance(self) -> None:
        self.seq_pos += 1

    def reset(self) -> None:
        self.seq_pos = 0
        for key_cache, value_cache in self.caches:
            key_cache.data.fill(0.0)
            value_cache.data.fill(0.0)

    def get_memory_usage(self):
        """Sizes of the pre-allocated buffers: total_mb, per_layer_mb, cache_tensors, total_elements."""
        cache_tensors = self.num_layers * 2
        total_elements = self.batch_size * self.num_heads * self.max_seq_len * self.head_dim * cache_tensors
        total_mb = total_elements * BYTES_PER_FLOAT32 / MB_TO_BYTES
        return {"total_mb": total_mb, "per_layer_mb": total_mb / self.num_layers,
                "cache_tensors": cache_tensors, "total_elements": total_elements}


def create_kv_cache(batch_size, max_seq_len, num_layers, num_heads, head_dim) -> KVCache:
    return KVCache(batch_size, max_seq_len, num_layers, num_heads, head_dim)


def _cached_attention(attention, original_forward, cache: KVCache, layer_idx: int):
    """``attention.forward`` that, for a single new token, attends over the cached keys and values."""

    def forward(x, mask=None):
        batch, seq_len, _ = x.shape
        if seq_len > 1:
            return original_forward(x, mask)
        heads, head_dim = attention.num_heads, attention.head_dim

        def split(proj):  # (B, 1, D) -> (B, H, 1, hd)
            return Tensor._wrap(proj.forward(x).data.reshape(batch, 1, heads, head_dim).transpose(0, 2, 1, 3))

        q = split(attention.q_proj)
        cache.update(layer_idx, split(attention.k_proj), split(attention.v_proj))
        end = cache.seq_pos + 1  # the past and the token just stored
        keys, values = (t.data[:, :, :end, :] for t in cache.caches[layer_idx])
        scores = (q.data @ keys.transpose(0, 1, 3, 2)) / np.float32(np.sqrt(head_dim))
        weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
        weights /= weights.sum(axis=-1, keepdims=True)
        attended = (weights @ values).transpose(0, 2, 1, 3).reshape(batch, 1, heads * head_dim)
        return attention.out_proj.forward(Tensor._wrap(attended))

    return forward


def _cached_positions(original_forward, cache: KVCache):
    """``position_embedding.forward`` that gives a single new token the cache position."""

    def forward(positions):
        if positions.shape[-1] == 1:
            positions = Tensor(np.full(positions.shape, cache.seq_pos))
        return original_forward(positions)

    return forward


def enable_kv_cache(model):
    """Attach a KVCache (batch 1) as ``model._kv_cache`` and patch every block's attention; returns it."""
    required = ["embed_dim", "num_layers", "num_heads", "max_seq_len", "blocks"]
    for attr in required:
        if not hasattr(model, attr):
            raise AttributeError(f"Model missing '{attr}' - enable_kv_cache() requires a GPT-style model "
                                 f"with {', '.join(required)}")
    if model.embed_dim % model.num_heads != 0:
        raise ValueError(f"embed_dim ({model.embed_dim}) must be divisible by num_heads ({model.num_heads})")
    cache = KVCache(batch_size=1, max_seq_len=model.max_seq_len, num_layers=model.num_layers,
                    num_heads=model.num_heads, head_dim=model.embed_dim // model.num_heads)
    model._kv_cache = cache
    model._cache_enabled = True
    for layer_idx, block in enumerate(model.blocks):
        if not hasattr(block, "_original_attention_forward"):
            block._original_attention_forward = block.attention.forward
        block.attention.forward = _cached_attention(block.attention, block._original_attention_forward,
                                                    cache, layer_idx)
    embedding = getattr(model, "position_embedding", None)
    if embedding is not None:
        if not hasattr(model, "_original_position_forward"):
            model._original_position_forward = embedding.forward
        embedding.forward = _cached_positions(model._original_position_forward, cache)
    return cache


def disable_kv_cache(model):
    """Undo ``enable_kv_cache``: restore the attention (and position) forwards, drop ``model._kv_cache``."""
    if not getattr(model, "_cache_enabled", False):
        return
    for block in model.blocks:
        if hasattr(block, "_original_attention_forward"):
            block.attention.forward = block._original_attention_forward
    if hasattr(model, "_original_position_forward"):
        model.position_embedding.forward = model._original_position_forward
    model._cache_enabled = False
    if hasattr(model, "_kv_cache"):
        del model._kv_cache
