"""Embedding lookup and scatter-add gradient; learned positions, the sinusoidal table, EmbeddingLayer."""

import math

import numpy as np
import pytest

from tests.tinytorch.gradcheck import gradcheck
from tinytorch.core.embeddings import (
    Embedding,
    EmbeddingLayer,
    PositionalEncoding,
    create_sinusoidal_embeddings,
)
from tinytorch.core.tensor import Tensor


def test_embedding_looks_up_rows_and_inits_as_the_course():
    np.random.seed(0)
    emb = Embedding(10, 4)
    np.random.seed(0)
    limit = math.sqrt(6 / 14)
    expected = np.random.uniform(-limit, limit, (10, 4)).astype(np.float32)
    np.testing.assert_array_equal(emb.weight.data, expected)
    ids = np.array([[1, 3], [3, 9]])
    for tokens in (Tensor(ids), ids, ids.tolist()):
        out = emb(tokens)
        assert out.shape == (2, 2, 4)
        np.testing.assert_array_equal(out.data, emb.weight.data[ids])
    assert type(emb(Tensor(ids))._grad_fn).__name__ == "EmbeddingBackward"
    assert emb.parameters() == [emb.weight]


def test_embedding_repeated_ids_accumulate_gradient():
    emb = Embedding(5, 3)
    upstream = np.arange(12, dtype=np.float32).reshape(4, 3)
    emb(Tensor([2, 0, 2, 2])).backward(upstream)
    expected = np.zeros((5, 3), dtype=np.float32)
    expected[2] = upstream[0] + upstream[2] + upstream[3]
    expected[0] = upstream[1]
    np.testing.assert_array_equal(emb.weight.grad, expected)


def test_embedding_gradcheck_with_repeated_ids():
    emb = Embedding(6, 3)
    ids = Tensor([[1, 1, 4], [5, 1, 0]])

    def fn(w):
        emb.weight = w
        return emb(ids)

    gradcheck(fn, [np.random.default_rng(0).normal(size=(6, 3))])


@pytest.mark.parametrize("bad", [[0, 7], [-1]])
def test_embedding_rejects_out_of_range_ids(bad):
    with pytest.raises(ValueError, match=r"Expected 0 <= indices < 7"):
        Embedding(7, 2)(Tensor(bad))


def test_sinusoidal_table_values():
    table = create_sinusoidal_embeddings(4, 6).data
    pos, freq = 3, 10000 ** (-4 / 6)  # feature pair (4, 5)
    assert table[pos, 4] == pytest.approx(np.sin(pos * freq), abs=1e-6)
    assert table[pos, 5] == pytest.approx(np.cos(pos * freq), abs=1e-6)
    np.testing.assert_allclose(table[0], [0, 1, 0, 1, 0, 1], atol=1e-7)
    assert create_sinusoidal_embeddings(3, 5).shape == (3, 5)  # odd width works


def test_learned_positional_encoding_values_gradients_and_errors():
    pe = PositionalEncoding(7, 4)
    assert pe.position_embeddings.shape == (7, 4) and pe.parameters() == [pe.position_embeddings]
    x = np.random.default_rng(1).normal(size=(2, 5, 4))
    np.testing.assert_allclose(pe(Tensor(x)).data, x + pe.position_embeddings.data[:5], rtol=1e-5, atol=1e-6)

    def fn(t, table):
        pe.position_embeddings = table
        return pe(t)

    gradcheck(fn, [x, pe.position_embeddings.data])
    with pytest.raises(ValueError, match="Sequence length 8 exceeds maximum 7"):
        pe(Tensor(np.zeros((1, 8, 4))))
    with pytest.raises(ValueError, match="expected 4, got 5"):
        pe(Tensor(np.zeros((1, 3, 5))))
    with pytest.raises(ValueError, match="Expected 3D input"):
        pe(Tensor(np.zeros((3, 4))))


@pytest.mark.parametrize("pos_encoding", ["learned", "sinusoidal", None])
def test_embedding_layer(pos_encoding):
    layer = EmbeddingLayer(10, 4, max_seq_len=6, pos_encoding=pos_encoding, scale_embeddings=True)
    ids = np.array([[1, 2, 3], [4, 5, 6]])
    out = layer(Tensor(ids))
    tokens = layer.token_embedding.weight.data[ids] * 2.0  # scaled by sqrt(4)
    positions = {"learned": lambda: layer.pos_encoding.position_embeddings.data[:3],
                 "sinusoidal": lambda: layer.pos_encoding.data[:3], None: lambda: 0}[pos_encoding]()
    np.testing.assert_allclose(out.data, tokens + positions, rtol=1e-6)
    assert layer(Tensor(ids[0])).shape == (3, 4)  # (seq,) in, (seq, embed) out
    assert len(layer.parameters()) == (2 if pos_encoding == "learned" else 1)
    with pytest.raises(ValueError, match="Unknown pos_encoding"):
        EmbeddingLayer(10, 4, pos_encoding="rotary")
