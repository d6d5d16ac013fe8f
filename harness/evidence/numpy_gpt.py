"""The course's GPT rebuilt in plain numpy (float64) from exported weights: the host's own forward pass.

A run exports its trained model with ``extras/_harness/export.py`` (one ``<dotted name>.npy`` per
Tensor); the host reads them with :func:`load_arrays` and computes logits and greedy generations
with :class:`NumpyGPT`, so no code of the student's package answers for the model.

Layouts recognised (by array name; ``i`` = 0 .. num_layers-1, ``D`` embed_dim, ``V`` vocab_size,
``P`` max_seq_len, ``F`` the MLP's hidden width, 4·D in the course)::

    2025 course (MLSysBook/TinyTorch, src/13_transformers; GPT in tinytorch.core.transformer)
        token_embedding.weight                      (V, D)
        position_embedding.weight                   (P, D)   looked up with positions 0..S-1
    2026 course (harvard-edge/cs249r_book, tinytorch/src/13_transformers; tinytorch.core.transformers)
        embedding_layer.token_embedding.weight      (V, D)
        embedding_layer.pos_encoding.position_embeddings (P, D)   learned (what GPT builds), or
        embedding_layer.pos_encoding                (P, D)   a fixed (sinusoidal) table
    both
        blocks.i.attention.{q,k,v,out}_proj.weight  (D, D)   Linear: y = x @ weight + bias
        blocks.i.attention.{q,k,v,out}_proj.bias    (D,)
        blocks.i.ln1.gamma, .beta; blocks.i.ln2.gamma, .beta   (D,)
        blocks.i.mlp.linear1.weight (D, F), .bias (F,); blocks.i.mlp.linear2.weight (F, D), .bias (D,)
        ln_f.gamma, ln_f.beta                       (D,)
        lm_head.weight                              (D, V)   no lm_head.bias (bias=False in both)

The computation, the same in both versions (read from each course's source; docs/course-api.md):

- embeddings: ``x = E_tok[ids] (· sqrt(D) if scale_embeddings, a 2026 EmbeddingLayer flag that
  the course's GPT leaves False) + E_pos[0:S]``;
- each block is pre-norm: ``x = x + attention(ln1(x)); x = x + mlp(ln2(x))``;
- LayerNorm over the last axis, biased variance, eps inside the root, eps = 1e-5 in both versions
  (``LayerNorm(embed_dim)`` everywhere, default eps): ``(x - mean) / sqrt(var + 1e-5) · gamma + beta``;
- MLP: ``linear2(gelu(linear1(x)))`` with the course's GELU, the sigmoid approximation
  ``x · sigmoid(1.702 x)`` in both versions (not erf, not the tanh formula);
- attention: Q, K, V projections (D -> D), split into ``num_heads`` heads of D / num_heads by
  reshape (B, S, H, D/H) then transpose (B, H, S, D/H); scores ``Q Kᵀ / sqrt(D / num_heads)``;
  causal mask (query t sees keys 0..t); softmax over keys; heads merged back in the same order;
  ``out_proj``;
- ``ln_f`` then ``lm_head`` (no bias).

The mask. ``attention="causal"`` (the default) is the mask both courses mean, and what the 2026
course computes (``masked_fill`` with -inf where the 1/0 mask is 0). The 2025 course's GPT builds an
additive mask (0 allowed, -inf future) and hands it to an attention that expects a 1/0 mask and adds
``(1 - mask) · -1e9``: every allowed score becomes ``score - 1e9`` in float32, which rounds to the
same value for |score| < 32 (steps of 64 beyond), so its attention is (nearly) uniform over the
allowed positions. A student who follows the 2025 course to the letter trains *that* model;
``attention="course-2025"`` reproduces it (scores rounded to float32, ``-1e9`` added in float32,
softmax in float64). Which one a run's model is cannot be read from the weights: the caller decides
(e.g. by which one reproduces the logits the run reported).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping

import numpy as np

from . import ArchitectureMismatch
from .arrays import load_arrays

LAYOUT_2025 = {"token": "token_embedding.weight", "position": "position_embedding.weight"}
LAYOUT_2026 = {"token": "embedding_layer.token_embedding.weight",
               "position": "embedding_layer.pos_encoding.position_embeddings",
               "position_fixed": "embedding_layer.pos_encoding"}
LAYER_NORM_EPS = {"2025": 1e-5, "2026": 1e-5}
GELU_SIGMOID_SCALE = {"2025": 1.702, "2026": 1.702}
MASK_VALUE_2025 = np.float32(-1e9)
ATTENTION_MODES = ("causal", "course-2025")


# ----------------------------------------------------------------------------------------------
# The model
# ----------------------------------------------------------------------------------------------


def _layer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
    centered = x - x.mean(axis=-1, keepdims=True)
    variance = (centered * centered).mean(axis=-1, keepdims=True)
    return centered / np.sqrt(variance + eps) * gamma + beta


def _gelu(x: np.ndarray, scale: float) -> np.ndarray:
    """x · sigmoid(scale · x), with the sigmoid written as 0.5 (1 + tanh(z / 2)) (no overflow)."""
    return x * 0.5 * (1.0 + np.tanh(0.5 * scale * x))


def _softmax(scores: np.ndarray) -> np.ndarray:
    shifted = scores - scores.max(axis=-1, keepdims=True)
    weights = np.exp(shifted)
    return weights / weights.sum(axis=-1, keepdims=True)


class NumpyGPT:
    """The course's GPT over exported weights (see the module docstring for layouts and formulas).

    ``arrays`` maps dotted names to arrays (as :func:`load_arrays` returns them). ``num_heads``
    cannot be read from the weights and is the caller's. ``vocab_size``, ``embed_dim``,
    ``num_layers`` and ``max_seq_len``, when given, are checked against the weights. ``strict``
    makes any array the layout does not use an ArchitectureMismatch; otherwise they are listed in
    ``unused``. Raises ArchitectureMismatch naming the array that is missing or misshaped and
    what was expected.
    """

    def __init__(self, arrays: Mapping[str, np.ndarray], num_heads: int, *, attention: str = "causal",
                 scale_embeddings: bool = False, strict: bool = False, vocab_size: int | None = None,
                 embed_dim: int | None = None, num_layers: int | None = None,
                 max_seq_len: int | None = None):
        if attention not in ATTENTION_MODES:
            raise ValueError(f"attention must be one of {ATTENTION_MODES}, got {attention!r}")
        if not isinstance(num_heads, (int, np.integer)) or isinstance(num_heads, bool) or num_heads <= 0:
            raise ValueError(f"num_heads must be a positive integer, got {num_heads!r}")
        self._arrays = dict(arrays)
        self._used: set[str] = set()
        self.attention = attention
        self.num_heads = int(num_heads)
        self.version = self._detect_version()
        if scale_embeddings and self.version != "2026":
            raise ValueError("scale_embeddings is a flag of the 2026 course's EmbeddingLayer; the 2025 "
                             "course's GPT has no EmbeddingLayer")
        self.scale_embeddings = bool(scale_embeddings)
        self.eps = LAYER_NORM_EPS[self.version]
        self.gelu_scale = GELU_SIGMOID_SCALE[self.version]
        layout = LAYOUT_2025 if self.version == "2025" else LAYOUT_2026

        self.token_table = self._take_2d(layout["token"], "(vocab_size, embed_dim)")
        self.vocab_size, self.embed_dim = self.token_table.shape
        dims = {"V": self.vocab_size, "D": self.embed_dim}
        position_name = layout["position"]
        fixed = layout.get("position_fixed")
        if fixed and position_name not in self._arrays and fixed in self._arrays:
            position_name = fixed
        self.position_table = self._take_2d(position_name, "(max_seq_len, embed_dim)")
        self.max_seq_len = self.position_table.shape[0]
        dims["P"] = self.max_seq_len
        self._check_shape(position_name, self.position_table, ("P", "D"), dims)
        if self.embed_dim % self.num_heads:
            raise ArchitectureMismatch(f"{layout['token']} gives embed_dim {self.embed_dim}, which "
                                       f"num_heads={self.num_heads} does not divide")

        self.num_layers = self._count_blocks()
        self.blocks = [self._take_block(i, dims) for i in range(self.num_layers)]
        self.hidden_dim = self.blocks[0]["linear1.weight"].shape[1] if self.blocks else None
        self.ln_f = (self._take("ln_f.gamma", ("D",), dims), self._take("ln_f.beta", ("D",), dims))
        self.lm_head = self._take("lm_head.weight", ("D", "V"), dims)
        if "lm_head.bias" in self._arrays:
            raise ArchitectureMismatch("lm_head.bias is present, but the course's lm_head is "
                                       "Linear(embed_dim, vocab_size, bias=False): it has no bias")

        declared = {"vocab_size": (vocab_size, self.vocab_size, layout["token"]),
                    "embed_dim": (embed_dim, self.embed_dim, layout["token"]),
                    "max_seq_len": (max_seq_len, self.max_seq_len, position_name),
                    "num_layers": (num_layers, self.num_layers, "blocks.*")}
        for key, (wanted, found, source) in declared.items():
            if wanted is not None and int(wanted) != found:
                raise ArchitectureMismatch(f"the weights give {key}={found} (from {source}), but "
                                           f"{key}={wanted} was declared")
        self.unused = sorted(set(self._arrays) - self._used)
        if strict and self.unused:
            shown = ", ".join(self.unused[:10]) + (" ..." if len(self.unused) > 10 else "")
            raise ArchitectureMismatch(f"{len(self.unused)} arrays are not part of the course's GPT "
                                       f"({self.version} layout): {shown}")
        del self._arrays

    @classmethod
    def from_directory(cls, directory, num_heads: int, **options) -> NumpyGPT:
        return cls(load_arrays(directory), num_heads, **options)

    # ------------------------------------------------------------------ reading the weights
    def _detect_version(self) -> str:
        has_2025 = LAYOUT_2025["token"] in self._arrays
        has_2026 = LAYOUT_2026["token"] in self._arrays
        if has_2025 and has_2026:
            raise ArchitectureMismatch(f"ambiguous layout: both {LAYOUT_2025['token']} (2025 course GPT) "
                                       f"and {LAYOUT_2026['token']} (2026 course GPT) are present")
        if has_2025:
            return "2025"
        if has_2026:
            return "2026"
        names = sorted(self._arrays)
        in_blocks = [n for n in names if n.startswith("blocks.")]
        others = [n for n in names if not n.startswith("blocks.")]
        shown = others[:10] + (["..."] if len(others) > 10 else [])
        shown += [f"blocks.* ({len(in_blocks)} arrays)"] if in_blocks else []
        raise ArchitectureMismatch(
            f"unknown layout: neither {LAYOUT_2025['token']} (2025 course GPT) nor "
            f"{LAYOUT_2026['token']} (2026 course GPT) is among the {len(names)} arrays "
            f"(found: {', '.join(shown) or 'none'})")

    def _get(self, name: str, expected: str) -> np.ndarray:
        if name not in self._arrays:
            raise ArchitectureMismatch(f"{name} is missing: the {self.version} course's GPT has it, "
                                       f"shaped {expected}")
        self._used.add(name)
        value = np.asarray(self._arrays[name])
        if not (np.issubdtype(value.dtype, np.number) or value.dtype == np.bool_):
            raise ArchitectureMismatch(f"{name} holds {value.dtype} values, expected numbers")
        return value.astype(np.float64)

    def _take_2d(self, name: str, expected: str) -> np.ndarray:
        value = self._get(name, expected)
        if value.ndim != 2 or 0 in value.shape:
            raise ArchitectureMismatch(f"{name} has shape {value.shape}, expected a non-empty "
                                       f"{expected} matrix")
        return value

    def _check_shape(self, name: str, value: np.ndarray, spec: tuple[str, ...], dims: dict) -> None:
        expected = tuple(dims[s] for s in spec)
        if value.shape != expected:
            symbols = {"V": "vocab_size", "D": "embed_dim", "P": "max_seq_len", "F": "hidden_dim"}
            shown = "(" + ", ".join(symbols[s] for s in spec) + ("," if len(spec) == 1 else "") + ")"
            raise ArchitectureMismatch(f"{name} has shape {value.shape}, expected {shown} = {expected}")

    def _take(self, name: str, spec: tuple[str, ...], dims: dict) -> np.ndarray:
        expected = tuple(dims[s] for s in spec)
        value = self._get(name, str(expected))
        self._check_shape(name, value, spec, dims)
        return value

    def _count_blocks(self) -> int:
        indices = set()
        for name in self._arrays:
            match = re.match(r"^blocks\.([0-9]+)\.", name)
            if match:
                indices.add(int(match.group(1)))
        return max(indices) + 1 if indices else 0

    def _take_block(self, i: int, dims: dict) -> dict[str, np.ndarray]:
        prefix = f"blocks.{i}."
        block = {}
        for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
            block[f"{proj}.weight"] = self._take(f"{prefix}attention.{proj}.weight", ("D", "D"), dims)
            block[f"{proj}.bias"] = self._take(f"{prefix}attention.{proj}.bias", ("D",), dims)
        for norm in ("ln1", "ln2"):
            block[f"{norm}.gamma"] = self._take(f"{prefix}{norm}.gamma", ("D",), dims)
            block[f"{norm}.beta"] = self._take(f"{prefix}{norm}.beta", ("D",), dims)
        linear1 = self._get(f"{prefix}mlp.linear1.weight",
                            f"(embed_dim, hidden_dim) = ({dims['D']}, 4*{dims['D']})")
        if linear1.ndim != 2 or linear1.shape[0] != dims["D"] or linear1.shape[1] == 0:
            raise ArchitectureMismatch(f"{prefix}mlp.linear1.weight has shape {linear1.shape}, expected "
                                       f"(embed_dim, hidden_dim) = ({dims['D']}, hidden_dim), 4*{dims['D']} "
                                       "in the course")
        block_dims = {**dims, "F": linear1.shape[1]}
        block["linear1.weight"] = linear1
        block["linear1.bias"] = self._take(f"{prefix}mlp.linear1.bias", ("F",), block_dims)
        block["linear2.weight"] = self._take(f"{prefix}mlp.linear2.weight", ("F", "D"), block_dims)
        block["linear2.bias"] = self._take(f"{prefix}mlp.linear2.bias", ("D",), block_dims)
        return block

    # ------------------------------------------------------------------ the forward pass
    def _check_ids(self, ids: np.ndarray) -> np.ndarray:
        """``ids`` as int64 when they are integral ids in [0, vocab_size), else ValueError."""
        if not np.issubdtype(ids.dtype, np.integer):
            if not np.issubdtype(ids.dtype, np.floating) or not np.all(np.isfinite(ids)) or \
                    not np.all(ids == np.round(ids)):
                raise ValueError(f"tokens must be integer ids, got {ids.dtype}")
        ids = ids.astype(np.int64)
        if ids.min() < 0 or ids.max() >= self.vocab_size:
            raise ValueError(f"token ids must lie in [0, {self.vocab_size}), got {ids.min()}..{ids.max()}")
        return ids

    def _check_tokens(self, tokens) -> np.ndarray:
        ids = np.asarray(tokens)
        if ids.ndim != 2 or 0 in ids.shape:
            raise ValueError(f"tokens must be a non-empty (batch, seq) array, got shape {ids.shape}")
        if ids.shape[1] > self.max_seq_len:
            raise ValueError(f"{ids.shape[1]} tokens exceed max_seq_len={self.max_seq_len}")
        return self._check_ids(ids)

    def _attend(self, x: np.ndarray, block: dict, allowed: np.ndarray) -> np.ndarray:
        batch, seq, dim = x.shape
        heads, head_dim = self.num_heads, dim // self.num_heads

        def split(name: str) -> np.ndarray:
            projected = x @ block[f"{name}.weight"] + block[f"{name}.bias"]
            return projected.reshape(batch, seq, heads, head_dim).transpose(0, 2, 1, 3)

        q, k, v = split("q_proj"), split("k_proj"), split("v_proj")
        scores = (q @ k.transpose(0, 1, 3, 2)) / math.sqrt(head_dim)
        if self.attention == "causal":
            scores = np.where(allowed, scores, -np.inf)
        else:  # the 2025 course's GPT: additive 0/-inf mask read as a 1/0 mask, in float32
            added = np.where(allowed, MASK_VALUE_2025, np.float32(-np.inf))
            scores = (scores.astype(np.float32) + added).astype(np.float64)
        attended = _softmax(scores) @ v
        merged = attended.transpose(0, 2, 1, 3).reshape(batch, seq, dim)
        return merged @ block["out_proj.weight"] + block["out_proj.bias"]

    def logits(self, tokens) -> np.ndarray:
        """(batch, seq) integer ids -> (batch, seq, vocab_size) float64 logits; position t sees 0..t."""
        ids = self._check_tokens(tokens)
        seq = ids.shape[1]
        x = self.token_table[ids]
        if self.scale_embeddings:
            x = x * math.sqrt(self.embed_dim)
        x = x + self.position_table[:seq]
        allowed = np.tril(np.ones((seq, seq), dtype=bool))
        for block in self.blocks:
            normed = _layer_norm(x, block["ln1.gamma"], block["ln1.beta"], self.eps)
            x = x + self._attend(normed, block, allowed)
            hidden = _layer_norm(x, block["ln2.gamma"], block["ln2.beta"], self.eps)
            hidden = _gelu(hidden @ block["linear1.weight"] + block["linear1.bias"], self.gelu_scale)
            x = x + hidden @ block["linear2.weight"] + block["linear2.bias"]
        return _layer_norm(x, *self.ln_f, self.eps) @ self.lm_head

    def greedy(self, prompt_ids, max_new_tokens: int, stop: int | Iterable[int] | None = None) -> list[int]:
        """The ids greedy decoding appends to ``prompt_ids`` (a 1-D or (1, S) sequence of ids): each
        step feeds the last ``max_seq_len`` ids and takes the argmax of the last position's logits
        (the lowest id on a tie). Stops after ``max_new_tokens`` ids or after emitting an id in
        ``stop`` (that id included). The prompt is not part of the result."""
        ids = np.asarray(prompt_ids)
        if ids.ndim == 2 and ids.shape[0] == 1:
            ids = ids[0]
        if ids.ndim != 1 or ids.size == 0:
            raise ValueError(f"prompt_ids must be a non-empty 1-D (or (1, S)) sequence, "
                             f"got shape {ids.shape}")
        if not isinstance(max_new_tokens, (int, np.integer)) or max_new_tokens < 0:
            raise ValueError(f"max_new_tokens must be a non-negative integer, got {max_new_tokens!r}")
        if stop is None:
            stops: set[int] = set()
        elif isinstance(stop, (int, np.integer)):
            stops = {int(stop)}
        else:
            stops = {int(s) for s in stop}
        context = [int(t) for t in self._check_ids(ids)]
        generated: list[int] = []
        for _ in range(int(max_new_tokens)):
            window = np.asarray(context[-self.max_seq_len:], dtype=np.int64)[None, :]
            token = int(np.argmax(self.logits(window)[0, -1]))
            context.append(token)
            generated.append(token)
            if token in stops:
                break
        return generated


__all__ = ["ATTENTION_MODES", "ArchitectureMismatch", "LAYOUT_2025", "LAYOUT_2026", "NumpyGPT"]
