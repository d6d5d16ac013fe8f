"""LayerNorm, MLP, pre-norm TransformerBlock and the decoder-only GPT, as the course defines them.

Differences from the course's solution, all fixes: the causal mask is 1 = attend / 0 = future
(the convention of ``scaled_dot_product_attention``; the course's 0/-inf mask makes attention a
uniform average), and LayerNorm's gradient includes its mean and variance terms.
"""

from __future__ import annotations

import numpy as np

from tinytorch.core.activations import GELU
from tinytorch.core.attention import MultiHeadAttention
from tinytorch.core.autograd import no_grad
from tinytorch.core.embeddings import Embedding, PositionalEncoding  # noqa: F401 (as the course's module)
from tinytorch.core.layers import Layer, Linear
from tinytorch.core.tensor import Tensor

BYTES_PER_FLOAT32 = 4
MB_TO_BYTES = 1024 * 1024


def create_causal_mask(seq_len) -> Tensor:
    """(1, seq_len, seq_len) lower-triangular ones: query i may attend to keys 0..i."""
    return Tensor(np.tril(np.ones((seq_len, seq_len), dtype=np.float32))[None])


class LayerNorm(Layer):
    """Normalise over the trailing ``normalized_shape`` axes, then scale by ``gamma`` and shift by ``beta``.

    One fused op; biased variance, eps inside the square root.
    """

    def __init__(self, normalized_shape, eps=1e-5):
        self.normalized_shape = normalized_shape
        self.eps = eps
        self.gamma = Tensor(np.ones(normalized_shape), requires_grad=True)
        self.beta = Tensor(np.zeros(normalized_shape), requires_grad=True)

    def forward(self, x):
        x = x if isinstance(x, Tensor) else Tensor(x)
        n = self.gamma.ndim
        if x.shape[x.ndim - n:] != self.gamma.shape:
            raise ValueError(f"LayerNorm({self.normalized_shape}) got input of shape {x.shape}")
        axes = tuple(range(x.ndim - n, x.ndim))
        lead = tuple(range(x.ndim - n))
        centered = x.data - x.data.mean(axis=axes, keepdims=True)
        inv_std = 1 / np.sqrt((centered * centered).mean(axis=axes, keepdims=True) + np.float32(self.eps))
        x_hat = centered * inv_std
        out = x_hat * self.gamma.data + self.beta.data

        def backward(grad):
            g_hat = grad * self.gamma.data
            grad_x = inv_std * (g_hat - g_hat.mean(axis=axes, keepdims=True)
                                - x_hat * (g_hat * x_hat).mean(axis=axes, keepdims=True))
            return grad_x, (grad * x_hat).sum(axis=lead), grad.sum(axis=lead)

        return Tensor._from_op(out.astype(np.float32), (x, self.gamma, self.beta), backward, "layernorm")

    def parameters(self):
        return [self.gamma, self.beta]


class MLP(Layer):
    """Position-wise feed-forward: ``linear1`` (embed_dim -> hidden_dim, default 4x), GELU, ``linear2``.

    ``dropout_prob`` is accepted as in the course and not used (the course applies no dropout).
    """

    def __init__(self, embed_dim, hidden_dim=None, dropout_prob=0.1):
        if hidden_dim is None:
            hidden_dim = 4 * embed_dim
        self.embed_dim = embed_dim
        self.hidden_dim = hidden_dim
        self.linear1 = Linear(embed_dim, hidden_dim)
        self.gelu = GELU()
        self.linear2 = Linear(hidden_dim, embed_dim)

    def forward(self, x):
        return self.linear2.forward(self.gelu.forward(self.linear1.forward(x)))

    def parameters(self):
        return self.linear1.parameters() + self.linear2.parameters()


class TransformerBlock(Layer):
    """Pre-norm block: ``x + attention(ln1(x), mask)``, then ``x + mlp(ln2(x))``."""

    def __init__(self, embed_dim, num_heads, mlp_ratio=4, dropout_prob=0.1):
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.attention = MultiHeadAttention(embed_dim, num_heads)
        self.ln1 = LayerNorm(embed_dim)
        self.ln2 = LayerNorm(embed_dim)
        self.mlp = MLP(embed_dim, int(embed_dim * mlp_ratio))

    def forward(self, x, mask=None):
        x = x + self.attention.forward(self.ln1.forward(x), mask)
        return x + self.mlp.forward(self.ln2.forward(x))

    def parameters(self):
        return (self.attention.parameters() + self.ln1.parameters() + self.ln2.parameters()
                + self.mlp.parameters())


class GPT(Layer):
    """Decoder-only transformer: token + position embeddings (both ``Embedding``), ``blocks``,
    final ``ln_f`` and ``lm_head`` (Linear, no bias) to vocabulary logits.

    ``forward(tokens)`` takes (batch, seq) ids (Tensor or array) and returns logits
    (batch, seq, vocab_size); position t only sees positions <= t.
    """

    def __init__(self, vocab_size, embed_dim, num_layers, num_heads, max_seq_len=1024):
        self.vocab_size = vocab_size
        self.embed_dim = embed_dim
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.max_seq_len = max_seq_len
        self.token_embedding = Embedding(vocab_size, embed_dim)
        self.position_embedding = Embedding(max_seq_len, embed_dim)
        self.blocks = [TransformerBlock(embed_dim, num_heads) for _ in range(num_layers)]
        self.ln_f = LayerNorm(embed_dim)
        self.lm_head = Linear(embed_dim, vocab_size, bias=False)

    def forward(self, tokens):
        tokens = tokens if isinstance(tokens, Tensor) else Tensor(tokens)
        if tokens.ndim != 2:
            raise ValueError(f"GPT.forward expects token ids shaped (batch, seq), got {tokens.shape}")
        seq_len = tokens.shape[1]
        x = self.token_embedding.forward(tokens)
        x = x + self.position_embedding.forward(Tensor(np.arange(seq_len).reshape(1, seq_len)))
        mask = self._create_causal_mask(seq_len)
        for block in self.blocks:
            x = block.forward(x, mask)
        return self.lm_head.forward(self.ln_f.forward(x))

    def _create_causal_mask(self, seq_len):
        return create_causal_mask(seq_len)

    def generate(self, prompt_tokens, max_new_tokens=50, temperature=1.0):
        """Append ``max_new_tokens`` ids to a (1, seq) prompt, as the course: each id is drawn with
        ``np.random.choice`` from softmax(last logits / temperature), so ``np.random.seed`` makes
        it repeatable. Returns a Tensor (1, seq + max_new_tokens)."""
        data = prompt_tokens.data if isinstance(prompt_tokens, Tensor) else np.asarray(prompt_tokens)
        current = Tensor(data)
        with no_grad():
            for _ in range(max_new_tokens):
                last_logits = self.forward(current).data[:, -1, :]
                scaled = last_logits / temperature
                exp_logits = np.exp(scaled - np.max(scaled, axis=-1, keepdims=True))
                probs = exp_logits / np.sum(exp_logits, axis=-1, keepdims=True)
                next_token = np.array([[np.random.choice(self.vocab_size, p=probs[0])]])
                current = Tensor(np.concatenate([current.data, next_token], axis=1))
        return current

    def parameters(self):
        params = self.token_embedding.parameters() + self.position_embedding.parameters()
        for block in self.blocks:
            params += block.parameters()
        return params + self.ln_f.parameters() + self.lm_head.parameters()
