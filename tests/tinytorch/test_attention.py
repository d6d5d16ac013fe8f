"""scaled_dot_product_attention and MultiHeadAttention: values, the course's additive masks, gradients."""

import numpy as np
import pytest

from tests.tinytorch.gradcheck import gradcheck
from tinytorch.core.attention import MultiHeadAttention, scaled_dot_product_attention
from tinytorch.core.tensor import Tensor
from tinytorch.core.transformer import create_causal_mask


def reference_attention(q, k, v, allowed=None):
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    if allowed is not None:
        scores = np.where(allowed, scores, -np.inf)
    w = np.exp(scores - scores.max(-1, keepdims=True))
    w /= w.sum(-1, keepdims=True)
    return w @ v, w


def qkv(shape=(2, 4, 3), seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=shape).astype(np.float32) for _ in range(3)]


def test_attention_matches_reference_values():
    q, k, v = qkv()
    out, weights = scaled_dot_product_attention(Tensor(q), Tensor(k), Tensor(v))
    ref_out, ref_w = reference_attention(q, k, v)
    np.testing.assert_allclose(out.data, ref_out, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(weights.data, ref_w, rtol=1e-5, atol=1e-6)


def test_causal_mask_blocks_the_future():
    mask = create_causal_mask(4)
    np.testing.assert_array_equal(mask.data, np.tril(np.ones((4, 4)))[None])  # (1, T, T), as the course
    q, k, v = qkv()
    out, weights = scaled_dot_product_attention(q, k, v, mask=mask)
    np.testing.assert_array_equal(np.triu(weights.data[0], 1), 0)
    np.testing.assert_allclose(weights.data.sum(-1), 1, rtol=1e-6)
    np.testing.assert_allclose(out.data[:, 0], v[:, 0], rtol=1e-6)  # first query sees only key 0
    ref_out, _ = reference_attention(q, k, v, np.tril(np.ones((4, 4), bool)))
    np.testing.assert_allclose(out.data, ref_out, rtol=1e-5, atol=1e-6)


def test_mask_is_added_as_the_course_does_and_blocked_rows_stay_finite():
    q, k, v = qkv((1, 2, 3))
    allowed = Tensor([[1.0, 0.0], [0.0, 0.0]])
    out, weights = scaled_dot_product_attention(q, k, v, mask=allowed)
    np.testing.assert_allclose(weights.data[0, 0], [1, 0])
    np.testing.assert_allclose(weights.data[0, 1], [0.5, 0.5], atol=1e-3)  # nothing allowed: ~uniform
    assert np.isfinite(out.data).all()
    soft = np.array([[1.0, 0.5], [1.0, 1.0]], dtype=np.float32)  # any mask: scores + (1 - mask) * -1e9
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(3) + (1 - soft) * np.float32(-1e9)
    expected = np.exp(scores - scores.max(-1, keepdims=True))
    _, weights = scaled_dot_product_attention(q, k, v, mask=soft)
    np.testing.assert_allclose(weights.data, expected / expected.sum(-1, keepdims=True), atol=1e-6)


def test_large_scores_do_not_overflow():
    q, k, v = qkv()
    out, weights = scaled_dot_product_attention(q * 1e4, k * 1e4, v)
    assert np.isfinite(out.data).all() and np.isfinite(weights.data).all()


@pytest.mark.parametrize("masked", [False, True])
def test_attention_gradcheck_output_and_weights(masked):
    q, k, v = qkv((2, 4, 3), seed=1)
    mask = create_causal_mask(4) if masked else None
    gradcheck(lambda a, b, c: scaled_dot_product_attention(a, b, c, mask)[0], [q, k, v])
    gradcheck(lambda a, b: scaled_dot_product_attention(a, b, Tensor(v), mask)[1], [q, k])


def test_attention_shape_errors_name_shapes():
    q, k, v = qkv()
    with pytest.raises(ValueError, match=r"Q \(2, 4, 3\), K \(2, 4, 2\)"):
        scaled_dot_product_attention(q, k[..., :2], v)
    with pytest.raises(ValueError, match=r"mask of shape \(3, 3\)"):
        scaled_dot_product_attention(q, k, v, mask=Tensor(np.ones((3, 3))))


def mha_reference(mha, x, allowed):
    """Per-head loop in plain numpy with the layer's weights."""
    def proj(layer, a):
        return a @ layer.weight.data + layer.bias.data

    q, k, v = proj(mha.q_proj, x), proj(mha.k_proj, x), proj(mha.v_proj, x)
    hd = mha.head_dim
    heads = [reference_attention(q[..., h * hd:(h + 1) * hd], k[..., h * hd:(h + 1) * hd],
                                 v[..., h * hd:(h + 1) * hd], allowed)[0] for h in range(mha.num_heads)]
    return proj(mha.out_proj, np.concatenate(heads, axis=-1))


def test_multi_head_attention_matches_per_head_reference():
    mha = MultiHeadAttention(8, 2)
    x = np.random.default_rng(2).normal(size=(2, 5, 8)).astype(np.float32)
    allowed = np.tril(np.ones((5, 5), bool))
    out = mha(Tensor(x), mask=create_causal_mask(5))
    assert out.shape == (2, 5, 8)
    np.testing.assert_allclose(out.data, mha_reference(mha, x, allowed), rtol=1e-4, atol=1e-5)
    two_d = mha(Tensor(x), mask=Tensor(np.tril(np.ones((5, 5)))))  # a (T, T) mask broadcasts
    np.testing.assert_allclose(two_d.data, out.data, rtol=1e-6)
    assert (mha.embed_dim, mha.num_heads, mha.head_dim) == (8, 2, 4)
    p = mha.parameters()
    assert p == mha.q_proj.parameters() + mha.k_proj.parameters() + mha.v_proj.parameters() + \
        mha.out_proj.parameters() and len(p) == 8


def test_multi_head_attention_gradcheck():
    mha = MultiHeadAttention(4, 2)
    x = np.random.default_rng(3).normal(size=(2, 3, 4))

    def fn(t, wq, wv, wo):
        mha.q_proj.weight, mha.v_proj.weight, mha.out_proj.weight = wq, wv, wo
        return mha(t, mask=create_causal_mask(3))

    gradcheck(fn, [x, mha.q_proj.weight.data, mha.v_proj.weight.data, mha.out_proj.weight.data])


def test_multi_head_attention_errors():
    with pytest.raises(ValueError, match="divisible"):
        MultiHeadAttention(10, 3)
    with pytest.raises(ValueError, match=r"\(batch, seq, 8\).*\(5, 8\)"):
        MultiHeadAttention(8, 2)(Tensor(np.zeros((5, 8))))
