"""LayerNorm, MLP, pre-norm TransformerBlock and a small decoder-only GPT with generate()."""

from __future__ import annotations

import numpy as np

from tinytorch.core.activations import GELU
from tinytorch.core.attention import MultiHeadAttention
from tinytorch.core.autograd import no_grad
from tinytorch.core.embeddings import Embedding, PositionalEncoding, as_token_ids
from tinytorch.core.layers import Layer, Linear
from tinytorch.core.random import rng
from tinytorch.core.tensor import Tensor

__all__ = ["LayerNorm", "MLP", "TransformerBlock", "GPT", "create_causal_mask", "causal_mask_array"]


def causal_mask_array(seq_len: int, start_pos: int = 0) -> np.ndarray:
    """Bool (seq_len, start_pos + seq_len): query i (absolute position start_pos + i) sees keys <= it."""
    keys = np.arange(start_pos + seq_len)
    return keys[None, :] <= (start_pos + np.arange(seq_len))[:, None]


def create_causal_mask(seq_len: int) -> Tensor:
    """Lower-triangular (seq_len, seq_len) mask of ones; 0 above the diagonal = blocked (the future)."""
    return Tensor(causal_mask_array(seq_len).astype(np.float32))


class LayerNorm(Layer):
    """Normalise over the trailing `normalized_shape` axes, then scale by gamma and shift by beta.

    One fused op; biased variance, eps inside the square root (as PyTorch).
    """

    def __init__(self, normalized_shape, eps: float = 1e-5):
        super().__init__()
        shape = (normalized_shape,) if np.isscalar(normalized_shape) else tuple(normalized_shape)
        self.normalized_shape, self.eps = tuple(int(s) for s in shape), float(eps)
        self.gamma = Tensor(np.ones(self.normalized_shape, dtype=np.float32), requires_grad=True)
        self.beta = Tensor(np.zeros(self.normalized_shape, dtype=np.float32), requires_grad=True)

    def forward(self, x) -> Tensor:
        x = x if isinstance(x, Tensor) else Tensor(np.asarray(x, dtype=np.float32))
        n = len(self.normalized_shape)
        if x.shape[x.data.ndim - n:] != self.normalized_shape:
            raise ValueError(f"LayerNorm{self.normalized_shape} got input of shape {x.shape}; its "
                             f"trailing axes must be {self.normalized_shape}")
        axes = tuple(range(x.data.ndim - n, x.data.ndim))
        lead = tuple(range(x.data.ndim - n))
        mean = x.data.mean(axis=axes, keepdims=True)
        centered = x.data - mean
        inv_std = 1.0 / np.sqrt((centered * centered).mean(axis=axes, keepdims=True) + np.float32(self.eps))
        x_hat = centered * inv_std
        out = x_hat * self.gamma.data + self.beta.data

        def backward(grad):
            g_hat = grad * self.gamma.data
            grad_x = inv_std * (g_hat - g_hat.mean(axis=axes, keepdims=True)
                                - x_hat * (g_hat * x_hat).mean(axis=axes, keepdims=True))
            return grad_x, (grad * x_hat).sum(axis=lead), grad.sum(axis=lead)

        return Tensor._from_op(out.astype(np.float32), (x, self.gamma, self.beta), backward, "layernorm")

    def __repr__(self) -> str:
        return f"LayerNorm({self.normalized_shape}, eps={self.eps})"


class MLP(Layer):
    """Position-wise feed-forward: Linear(embed_dim, hidden_dim) -> GELU -> Linear(hidden_dim, embed_dim)."""

    def __init__(self, embed_dim: int, hidden_dim: int | None = None):
        super().__init__()
        hidden_dim = 4 * embed_dim if hidden_dim is None else hidden_dim
        self.fc1 = Linear(embed_dim, hidden_dim)
        self.activation = GELU()
        self.fc2 = Linear(hidden_dim, embed_dim)

    def forward(self, x) -> Tensor:
        return self.fc2(self.activation(self.fc1(x)))


class TransformerBlock(Layer):
    """Pre-norm block: x + attn(ln1(x)), then x + mlp(ln2(x))."""

    def __init__(self, embed_dim: int, num_heads: int, mlp_ratio: int = 4):
        super().__init__()
        self.ln1 = LayerNorm(embed_dim)
        self.attention = MultiHeadAttention(embed_dim, num_heads)
        self.ln2 = LayerNorm(embed_dim)
        self.mlp = MLP(embed_dim, int(mlp_ratio * embed_dim))

    def forward(self, x, mask=None, kv_cache=None, layer_idx: int = 0) -> Tensor:
        x = x + self.attention(self.ln1(x), mask=mask, kv_cache=kv_cache, layer_idx=layer_idx)
        return x + self.mlp(self.ln2(x))


class GPT(Layer):
    """Decoder-only transformer: token + learned position embeddings, pre-norm blocks, final LayerNorm,
    linear head (no bias, as the course) to vocabulary logits.

    forward(tokens) takes (B, T) integer ids (int array, list or Tensor) and returns logits (B, T, V);
    a 1-D (T,) input gives (T, V). Causal: position t only sees positions <= t.
    """

    def __init__(self, vocab_size: int, embed_dim: int, num_layers: int, num_heads: int,
                 max_seq_len: int = 1024, mlp_ratio: int = 4):
        super().__init__()
        self.vocab_size, self.embed_dim = int(vocab_size), int(embed_dim)
        self.num_layers, self.num_heads, self.max_seq_len = int(num_layers), int(num_heads), int(max_seq_len)
        self.token_embedding = Embedding(vocab_size, embed_dim)
        self.position_embedding = PositionalEncoding(max_seq_len, embed_dim, learned=True)
        self.blocks = [TransformerBlock(embed_dim, num_heads, mlp_ratio) for _ in range(num_layers)]
        self.ln_f = LayerNorm(embed_dim)
        self.lm_head = Linear(embed_dim, vocab_size, bias=False)
        self.kv_cache = None  # set by tinytorch.perf.memoization.enable_kv_cache

    def forward(self, tokens, kv_cache=None) -> Tensor:
        """Logits for `tokens`. With kv_cache, `tokens` are the NEW tokens after the cached ones."""
        ids = as_token_ids(tokens, self.vocab_size, "GPT.forward")
        squeeze = ids.ndim == 1
        ids = ids[None] if squeeze else ids
        if ids.ndim != 2:
            raise ValueError(f"GPT.forward expects token ids shaped (batch, seq) or (seq,), got {ids.shape}")
        if kv_cache is None and self.kv_cache is not None and ids.shape[1] == 1:
            # The course's protocol: after enable_kv_cache(model), one-token forwards go through
            # the cache (the caller's cache.advance() afterwards then commits nothing more).
            kv_cache = self.kv_cache
        start = kv_cache.seq_pos if kv_cache is not None else 0
        if start + ids.shape[1] > self.max_seq_len:
            raise ValueError(f"GPT.forward: sequence of {start + ids.shape[1]} tokens exceeds max_seq_len "
                             f"{self.max_seq_len}; crop to the last {self.max_seq_len} tokens")
        mask = causal_mask_array(ids.shape[1], start)
        x = self.position_embedding(self.token_embedding(ids), start_pos=start)
        for layer_idx, block in enumerate(self.blocks):
            x = block(x, mask=mask, kv_cache=kv_cache, layer_idx=layer_idx)
        logits = self.lm_head(self.ln_f(x))
        if kv_cache is not None:
            kv_cache.advance()
        if squeeze:
            return Tensor._from_op(logits.data[0], (logits,), lambda grad: (grad[None],), "squeeze_batch")
        return logits

    def generate(self, prompt_tokens, max_new_tokens: int, temperature: float = 1.0,
                 top_k: int | None = None, greedy: bool = False):
        """Append `max_new_tokens` sampled tokens to the prompt and return prompt + new ids.

        Returns the same kind as the prompt: a Tensor prompt (course style, e.g. Tensor([[1, 2]]))
        gives a Tensor of ids, a list or array gives an int64 ndarray; (seq,) in, (seq + new,) out.

        temperature == 0 or greedy=True picks the argmax. Sampling draws from tinytorch's seeded rng,
        so tinytorch.manual_seed(n) makes it repeatable. Uses the KV cache when enable_kv_cache(model)
        was called; once the cache is full it falls back to recomputing the last max_seq_len tokens.
        """
        ids = as_token_ids(prompt_tokens, self.vocab_size, "GPT.generate")
        squeeze = ids.ndim == 1
        ids = ids[None] if squeeze else ids
        if ids.ndim != 2 or ids.shape[1] == 0:
            raise ValueError(f"GPT.generate needs a non-empty prompt (seq,) or (batch, seq), got {ids.shape}")
        if temperature < 0:
            raise ValueError(f"GPT.generate: temperature must be >= 0, got {temperature}")
        cache = self.kv_cache
        with no_grad():
            if cache is not None:
                cache.reset(batch_size=ids.shape[0])
            logits = self.forward(ids[:, -self.max_seq_len:], kv_cache=cache).data[:, -1]
            for step in range(max_new_tokens):
                next_ids = _pick_next(logits, temperature, top_k, greedy)
                ids = np.concatenate([ids, next_ids[:, None]], axis=1)
                if step == max_new_tokens - 1:
                    break
                if cache is not None and cache.seq_pos < self.max_seq_len:
                    logits = self.forward(next_ids[:, None], kv_cache=cache).data[:, -1]
                else:
                    logits = self.forward(ids[:, -self.max_seq_len:]).data[:, -1]
        ids = ids[0] if squeeze else ids
        return Tensor(ids) if isinstance(prompt_tokens, Tensor) else ids


def _pick_next(logits: np.ndarray, temperature: float, top_k: int | None, greedy: bool) -> np.ndarray:
    """Next id per row of (B, V) logits: argmax, or a sample from softmax(logits / T) over the top k."""
    if greedy or temperature == 0:
        return logits.argmax(axis=-1).astype(np.int64)
    scaled = logits.astype(np.float64) / temperature
    if top_k is not None and 0 < top_k < scaled.shape[-1]:
        kth = np.partition(scaled, -top_k, axis=-1)[:, -top_k][:, None]
        scaled = np.where(scaled < kth, -np.inf, scaled)
    probs = np.exp(scaled - scaled.max(axis=-1, keepdims=True))
    cdf = np.cumsum(probs, axis=-1)
    draws = rng().random((logits.shape[0], 1)) * cdf[:, -1:]
    return np.minimum((cdf <= draws).sum(axis=-1), logits.shape[-1] - 1).astype(np.int64)
