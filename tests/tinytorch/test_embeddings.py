"""Embedding lookup and scatter-add gradient; learned and sinusoidal positional encodings."""

import numpy as np
import pytest

from tests.tinytorch.gradcheck import gradcheck
from tinytorch.core.embeddings import Embedding, PositionalEncoding, sinusoidal_table
from tinytorch.core.tensor import Tensor


def test_embedding_looks_up_rows_for_any_id_container():
    emb = Embedding(10, 4)
    ids = np.array([[1, 3], [3, 9]])
    expected = emb.weight.data[ids]
    for tokens in (ids, ids.tolist(), Tensor(ids)):
        out = emb(tokens)
        assert out.shape == (2, 2, 4)
        np.testing.assert_array_equal(out.data, expected)


def test_embedding_repeated_ids_accumulate_gradient():
    emb = Embedding(5, 3)
    upstream = np.arange(12, dtype=np.float32).reshape(4, 3)
    emb(np.array([2, 0, 2, 2])).backward(upstream)
    expected = np.zeros((5, 3), dtype=np.float32)
    expected[2] = upstream[0] + upstream[2] + upstream[3]
    expected[0] = upstream[1]
    np.testing.assert_array_equal(emb.weight.grad, expected)


def test_embedding_gradcheck_with_repeated_ids():
    emb = Embedding(6, 3)
    ids = np.array([[1, 1, 4], [5, 1, 0]])

    def fn(w):
        emb.weight = w
        return emb(ids)

    gradcheck(fn, [np.random.default_rng(0).normal(size=(6, 3))])


@pytest.mark.parametrize("bad,error", [([0, 7], IndexError), ([-1], IndexError), ([0.5], ValueError)])
def test_embedding_rejects_bad_ids(bad, error):
    with pytest.raises(error, match="Embedding"):
        Embedding(7, 2)(np.array(bad))


def test_sinusoidal_table_values():
    table = sinusoidal_table(4, 6)
    pos = 3  # feature pair (4, 5) uses frequency 10000^(-4/6)
    freq = 10000 ** (-4 / 6)
    assert table[pos, 4] == pytest.approx(np.sin(pos * freq), abs=1e-6)
    assert table[pos, 5] == pytest.approx(np.cos(pos * freq), abs=1e-6)
    np.testing.assert_allclose(table[0], [0, 1, 0, 1, 0, 1], atol=1e-7)
    assert sinusoidal_table(3, 5).shape == (3, 5)  # odd width works


def test_sinusoidal_encoding_has_no_parameters_and_adds_table():
    pe = PositionalEncoding(8, 6, learned=False)
    assert pe.parameters() == []
    x = np.zeros((2, 5, 6), dtype=np.float32)
    np.testing.assert_allclose(pe(Tensor(x)).data[1], sinusoidal_table(8, 6)[:5])
    np.testing.assert_allclose(pe(Tensor(x), start_pos=3).data[0], sinusoidal_table(8, 6)[3:8])


@pytest.mark.parametrize("learned", [True, False])
def test_positional_encoding_gradcheck(learned):
    pe = PositionalEncoding(7, 4, learned=learned)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 5, 4))
    if not learned:
        gradcheck(lambda t: pe(t, start_pos=1), [x])
        return

    def fn(t, table):
        pe.weight = table
        return pe(t, start_pos=2)

    gradcheck(fn, [x, pe.weight.data])


def test_learned_positional_gradient_lands_on_used_rows_only():
    pe = PositionalEncoding(6, 2)
    pe(Tensor(np.zeros((3, 2, 2))), start_pos=1).backward(np.ones((3, 2, 2), dtype=np.float32))
    np.testing.assert_array_equal(pe.weight.grad[:, 0], [0, 3, 3, 0, 0, 0])


def test_positional_encoding_errors():
    pe = PositionalEncoding(4, 2)
    with pytest.raises(ValueError, match="exceed max_seq_len 4"):
        pe(Tensor(np.zeros((1, 3, 2))), start_pos=2)
    with pytest.raises(ValueError, match=r"\(1, 3, 5\)"):
        pe(Tensor(np.zeros((1, 3, 5))))
