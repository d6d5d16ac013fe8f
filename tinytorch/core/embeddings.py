"""Token embeddings and positional encodings, as the course defines them."""

from __future__ import annotations

import math

import numpy as np

from tinytorch.core.autograd import EmbeddingBackward
from tinytorch.core.layers import Layer
from tinytorch.core.tensor import Tensor, _records

BYTES_PER_FLOAT32 = 4
MB_TO_BYTES = 1024 * 1024


class Embedding(Layer):
    """Lookup table: ids (...) -> vectors (..., embed_dim); ``weight`` is (vocab_size, embed_dim).

    Initialised as the course: uniform in ±sqrt(6 / (vocab_size + embed_dim)). Ids may be a
    Tensor (float ids are truncated, as the course) or an integer array/list; an id outside
    [0, vocab_size) raises ValueError. The backward scatter-adds, so repeated ids accumulate.
    """

    def __init__(self, vocab_size, embed_dim):
        self.vocab_size = vocab_size
        self.embed_dim = embed_dim
        limit = math.sqrt(6.0 / (vocab_size + embed_dim))
        self.weight = Tensor(np.random.uniform(-limit, limit, (vocab_size, embed_dim)), requires_grad=True)

    def forward(self, indices):
        data = indices.data if isinstance(indices, Tensor) else np.asarray(indices)
        if data.size and (data.min() < 0 or data.max() >= self.vocab_size):
            raise ValueError(f"Index out of range. Expected 0 <= indices < {self.vocab_size}, "
                             f"got min={data.min()}, max={data.max()}")
        ids = data.astype(np.int64)
        out = Tensor._wrap(self.weight.data[ids])
        return out._attach(EmbeddingBackward(self.weight, ids)) if _records(self.weight) else out

    def parameters(self):
        return [self.weight]

    def __repr__(self):
        return f"Embedding(vocab_size={self.vocab_size}, embed_dim={self.embed_dim})"


class PositionalEncoding(Layer):
    """Adds a learned position vector to (batch, seq, embed_dim) input.

    ``position_embeddings`` is (max_seq_len, embed_dim), uniform in ±sqrt(2 / embed_dim).
    """

    def __init__(self, max_seq_len, embed_dim):
        self.max_seq_len = max_seq_len
        self.embed_dim = embed_dim
        limit = math.sqrt(2.0 / embed_dim)
        self.position_embeddings = Tensor(np.random.uniform(-limit, limit, (max_seq_len, embed_dim)),
                                          requires_grad=True)

    def forward(self, x):
        if x.ndim != 3:
            raise ValueError(f"Expected 3D input (batch, seq, embed), got shape {x.shape}")
        _, seq_len, embed_dim = x.shape
        if seq_len > self.max_seq_len:
            raise ValueError(f"Sequence length {seq_len} exceeds maximum {self.max_seq_len}")
        if embed_dim != self.embed_dim:
            raise ValueError(f"Embedding dimension mismatch: expected {self.embed_dim}, got {embed_dim}")
        return x + self.position_embeddings[:seq_len]

    def parameters(self):
        return [self.position_embeddings]

    def __repr__(self):
        return f"PositionalEncoding(max_seq_len={self.max_seq_len}, embed_dim={self.embed_dim})"


def create_sinusoidal_embeddings(max_seq_len, embed_dim) -> Tensor:
    """The fixed (max_seq_len, embed_dim) table of "Attention is all you need": sin on even, cos on odd."""
    position = np.arange(max_seq_len, dtype=np.float32)[:, None]
    div_term = np.exp(np.arange(0, embed_dim, 2, dtype=np.float32) * -(math.log(10000.0) / embed_dim))
    table = np.zeros((max_seq_len, embed_dim), dtype=np.float32)
    table[:, 0::2] = np.sin(position * div_term)
    table[:, 1::2] = np.cos(position * div_term[: embed_dim // 2])
    return Tensor(table)


class EmbeddingLayer(Layer):
    """Token embedding plus positions: ``pos_encoding`` 'learned', 'sinusoidal' or None.

    ``forward(tokens)`` takes (batch, seq) ids, or (seq,) which gives (seq, embed_dim);
    ``scale_embeddings`` multiplies the token vectors by sqrt(embed_dim).
    """

    def __init__(self, vocab_size, embed_dim, max_seq_len=512, pos_encoding="learned",
                 scale_embeddings=False):
        if pos_encoding not in ("learned", "sinusoidal", None):
            raise ValueError(f"Unknown pos_encoding: {pos_encoding}. Use 'learned', 'sinusoidal', or None")
        self.vocab_size = vocab_size
        self.embed_dim = embed_dim
        self.max_seq_len = max_seq_len
        self.pos_encoding_type = pos_encoding
        self.scale_embeddings = scale_embeddings
        self.token_embedding = Embedding(vocab_size, embed_dim)
        if pos_encoding == "learned":
            self.pos_encoding = PositionalEncoding(max_seq_len, embed_dim)
        elif pos_encoding == "sinusoidal":
            self.pos_encoding = create_sinusoidal_embeddings(max_seq_len, embed_dim)
        else:
            self.pos_encoding = None

    def forward(self, tokens):
        tokens = tokens if isinstance(tokens, Tensor) else Tensor(tokens)
        squeeze = tokens.ndim == 1
        if squeeze:
            tokens = tokens.reshape(1, -1)
        x = self.token_embedding.forward(tokens)
        if self.scale_embeddings:
            x = x * math.sqrt(self.embed_dim)
        if self.pos_encoding_type == "learned":
            x = self.pos_encoding.forward(x)
        elif self.pos_encoding_type == "sinusoidal":
            x = x + Tensor._wrap(self.pos_encoding.data[None, :x.shape[1]])
        return x[0] if squeeze else x

    def parameters(self):
        params = self.token_embedding.parameters()
        if self.pos_encoding_type == "learned":
            params = params + self.pos_encoding.parameters()
        return params

    def __repr__(self):
        return (f"EmbeddingLayer(vocab_size={self.vocab_size}, embed_dim={self.embed_dim}, "
                f"pos_encoding='{self.pos_encoding_type}')")
