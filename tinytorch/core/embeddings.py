"""Token embeddings and positional encodings."""

from __future__ import annotations

import numpy as np

from tinytorch.core.layers import Layer
from tinytorch.core.random import rng
from tinytorch.core.tensor import Tensor

__all__ = ["Embedding", "PositionalEncoding", "as_token_ids", "sinusoidal_table"]


def as_token_ids(tokens, vocab_size: int, where: str) -> np.ndarray:
    """Integer ids (int64 array) from a Tensor, ndarray or nested list, range-checked."""
    data = tokens.data if isinstance(tokens, Tensor) else np.asarray(tokens)
    if data.dtype.kind == "f":
        if not np.all(np.isfinite(data)) or np.any(data != np.round(data)):
            raise ValueError(f"{where}: token ids must be whole numbers, got non-integer values")
    elif data.dtype.kind not in "iub":
        raise TypeError(f"{where}: token ids must be integers, got dtype {data.dtype}")
    ids = data.astype(np.int64)
    if ids.size and (ids.min() < 0 or ids.max() >= vocab_size):
        raise IndexError(f"{where}: token id out of range [0, {vocab_size}): found min {ids.min()}, "
                         f"max {ids.max()}; check the tokenizer's vocab_size matches the model")
    return ids


class Embedding(Layer):
    """Lookup table: ids (...) -> vectors (..., embed_dim). weight is (vocab_size, embed_dim).

    Initialised N(0, 0.02^2). The backward scatter-adds, so repeated ids accumulate gradient.
    """

    def __init__(self, vocab_size: int, embed_dim: int):
        super().__init__()
        if vocab_size < 1 or embed_dim < 1:
            raise ValueError(f"Embedding needs vocab_size >= 1 and embed_dim >= 1, "
                             f"got {vocab_size}, {embed_dim}")
        self.vocab_size, self.embed_dim = int(vocab_size), int(embed_dim)
        weight = rng().normal(0.0, 0.02, (vocab_size, embed_dim)).astype(np.float32)
        self.weight = Tensor(weight, requires_grad=True)

    def forward(self, tokens) -> Tensor:
        ids = as_token_ids(tokens, self.vocab_size, "Embedding")
        out = self.weight.data[ids]

        def backward(grad):
            grad_w = np.zeros_like(self.weight.data)
            np.add.at(grad_w, ids.reshape(-1), grad.reshape(-1, self.embed_dim))
            return (grad_w,)

        return Tensor._from_op(out, (self.weight,), backward, "embedding")

    def __repr__(self) -> str:
        return f"Embedding({self.vocab_size}, {self.embed_dim})"


def sinusoidal_table(max_seq_len: int, embed_dim: int) -> np.ndarray:
    """The fixed encoding of "Attention is all you need": sin on even, cos on odd features."""
    pos = np.arange(max_seq_len, dtype=np.float64)[:, None]
    freq = np.exp(-np.log(10000.0) * np.arange(0, embed_dim, 2, dtype=np.float64) / embed_dim)
    table = np.zeros((max_seq_len, embed_dim), dtype=np.float64)
    table[:, 0::2] = np.sin(pos * freq)
    table[:, 1::2] = np.cos(pos * freq[: embed_dim // 2])
    return table.astype(np.float32)


class PositionalEncoding(Layer):
    """Adds a position vector to (batch, seq, embed_dim) input.

    learned=True: a trainable (max_seq_len, embed_dim) table, N(0, 0.02^2) init.
    learned=False: the fixed sinusoidal table (no parameters).
    forward(x, start_pos=0) adds the rows start_pos .. start_pos+seq-1 (start_pos > 0 is used
    by incremental decoding with a KV cache).
    """

    def __init__(self, max_seq_len: int, embed_dim: int, learned: bool = True):
        super().__init__()
        self.max_seq_len, self.embed_dim, self.learned = int(max_seq_len), int(embed_dim), bool(learned)
        if learned:
            table = rng().normal(0.0, 0.02, (max_seq_len, embed_dim)).astype(np.float32)
            self.weight = Tensor(table, requires_grad=True)
        else:
            self.weight = Tensor(sinusoidal_table(max_seq_len, embed_dim))

    def forward(self, x, start_pos: int = 0) -> Tensor:
        x = x if isinstance(x, Tensor) else Tensor(np.asarray(x, dtype=np.float32))
        if x.data.ndim < 2 or x.shape[-1] != self.embed_dim:
            raise ValueError(f"PositionalEncoding expects (..., seq, {self.embed_dim}) input, got {x.shape}")
        seq = x.shape[-2]
        if start_pos + seq > self.max_seq_len:
            raise ValueError(f"PositionalEncoding: positions {start_pos}..{start_pos + seq - 1} exceed "
                             f"max_seq_len {self.max_seq_len}; crop the sequence or build a longer table")
        rows = self.weight.data[start_pos:start_pos + seq]
        out = x.data + rows

        def backward(grad):
            grad_table = None
            if self.learned:
                grad_table = np.zeros_like(self.weight.data)
                grad_table[start_pos:start_pos + seq] = grad.reshape(-1, seq, self.embed_dim).sum(axis=0)
            return grad, grad_table

        return Tensor._from_op(out, (x, self.weight), backward, "positional_encoding")

    def __repr__(self) -> str:
        kind = "learned" if self.learned else "sinusoidal"
        return f"PositionalEncoding({self.max_seq_len}, {self.embed_dim}, {kind})"
