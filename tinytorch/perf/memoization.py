"""KV cache: remember each layer's keys and values so generation computes only the new token.

Protocol used by MultiHeadAttention / GPT.forward (one decoding step over t new tokens):
  for each layer: update(layer, k_new, v_new)  # writes positions seq_pos .. seq_pos+t-1
                  keys, values = get(layer)    # everything up to and including the new ones
  advance()                                    # seq_pos += t, once per step, after all layers
"""

from __future__ import annotations

import numpy as np

__all__ = ["KVCache", "enable_kv_cache", "disable_kv_cache"]


class KVCache:
    """Pre-allocated (batch, heads, max_seq_len, head_dim) key and value buffers per layer."""

    def __init__(self, batch_size: int, max_seq_len: int, num_layers: int, num_heads: int, head_dim: int):
        for name, value in (("batch_size", batch_size), ("max_seq_len", max_seq_len),
                            ("num_layers", num_layers), ("num_heads", num_heads), ("head_dim", head_dim)):
            if int(value) != value or value < 1:
                raise ValueError(f"KVCache {name} must be a positive int, got {value!r}")
        self.max_seq_len, self.num_layers = int(max_seq_len), int(num_layers)
        self.num_heads, self.head_dim = int(num_heads), int(head_dim)
        self._allocate(int(batch_size))

    def _allocate(self, batch_size: int) -> None:
        self.batch_size = batch_size
        shape = (self.num_layers, batch_size, self.num_heads, self.max_seq_len, self.head_dim)
        self.keys = np.zeros(shape, dtype=np.float32)
        self.values = np.zeros(shape, dtype=np.float32)
        self.seq_pos = 0
        self._pending = 0

    def _check_layer(self, layer_idx: int) -> None:
        if not 0 <= layer_idx < self.num_layers:
            raise IndexError(f"KVCache layer_idx {layer_idx} out of range [0, {self.num_layers})")

    def update(self, layer_idx: int, key, value) -> None:
        """Store (batch, heads, t, head_dim) new keys/values at positions seq_pos .. seq_pos+t-1."""
        self._check_layer(layer_idx)
        key = np.asarray(getattr(key, "data", key), dtype=np.float32)
        value = np.asarray(getattr(value, "data", value), dtype=np.float32)
        expected = (self.batch_size, self.num_heads, key.shape[2] if key.ndim == 4 else -1, self.head_dim)
        if key.shape != expected or value.shape != key.shape:
            raise ValueError(f"KVCache.update: key {key.shape} / value {value.shape} must both be "
                             f"(batch={self.batch_size}, heads={self.num_heads}, t, "
                             f"head_dim={self.head_dim})")
        t = key.shape[2]
        if self.seq_pos + t > self.max_seq_len:
            raise ValueError(f"KVCache is full: {self.seq_pos} cached + {t} new > max_seq_len "
                             f"{self.max_seq_len}; reset() it or crop the context")
        self.keys[layer_idx, :, :, self.seq_pos:self.seq_pos + t] = key
        self.values[layer_idx, :, :, self.seq_pos:self.seq_pos + t] = value
        self._pending = t

    def get(self, layer_idx: int) -> tuple[np.ndarray, np.ndarray]:
        """Cached keys and values of a layer, (batch, heads, seq_pos + t_new, head_dim) views."""
        self._check_layer(layer_idx)
        end = self.seq_pos + self._pending
        return self.keys[layer_idx, :, :, :end], self.values[layer_idx, :, :, :end]

    def advance(self) -> None:
        """Commit the tokens written by the last update() calls: seq_pos += t."""
        self.seq_pos += self._pending
        self._pending = 0

    def reset(self, batch_size: int | None = None) -> None:
        """Forget everything (and re-allocate if a different batch size is asked for)."""
        if batch_size is not None and batch_size != self.batch_size:
            self._allocate(int(batch_size))
        self.seq_pos = 0
        self._pending = 0

    def memory_bytes(self) -> int:
        return self.keys.nbytes + self.values.nbytes

    def __repr__(self) -> str:
        return (f"KVCache(batch_size={self.batch_size}, max_seq_len={self.max_seq_len}, "
                f"num_layers={self.num_layers}, num_heads={self.num_heads}, head_dim={self.head_dim}, "
                f"seq_pos={self.seq_pos})")


def enable_kv_cache(model, batch_size: int = 1) -> KVCache:
    """Give a GPT a KV cache; its generate() then decodes one new token per step, and (the course's
    protocol) each one-token ``model.forward`` goes through the cache. Returns the cache."""
    needed = ("max_seq_len", "num_layers", "num_heads", "embed_dim", "kv_cache")
    missing = [name for name in needed if not hasattr(model, name)]
    if missing:
        raise TypeError(f"enable_kv_cache needs a tinytorch GPT (attributes {needed}); "
                        f"{type(model).__name__} lacks {missing}")
    cache = KVCache(batch_size, model.max_seq_len, model.num_layers, model.num_heads,
                    model.embed_dim // model.num_heads)
    model.kv_cache = cache
    return cache


def disable_kv_cache(model) -> None:
    """Remove the cache: generate() goes back to recomputing the whole context each step."""
    model.kv_cache = None
