"""LayerNorm, MLP, TransformerBlock and GPT: values, gradients, causality, generation."""

import numpy as np
import pytest

import tinytorch
from tests.tinytorch.gradcheck import gradcheck
from tinytorch.core import transformer as old_spelling
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.optimizers import Adam
from tinytorch.core.tensor import Tensor
from tinytorch.core.transformers import GPT, MLP, LayerNorm, TransformerBlock, create_causal_mask


def test_layernorm_values():
    x = np.random.default_rng(0).normal(3, 2, size=(2, 3, 8)).astype(np.float32)
    ln = LayerNorm(8)
    ln.gamma.data[:] = 2.0
    ln.beta.data[:] = 0.5
    mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    np.testing.assert_allclose(ln(Tensor(x)).data, 2 * (x - mean) / np.sqrt(var + 1e-5) + 0.5,
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape,normalized", [((3, 5), 5), ((2, 3, 4), (3, 4))])
def test_layernorm_gradcheck(shape, normalized):
    rng = np.random.default_rng(1)
    ln = LayerNorm(normalized)

    def fn(x, g, b):
        ln.gamma, ln.beta = g, b
        return ln(x)

    gradcheck(fn, [rng.normal(size=shape), rng.normal(size=ln.gamma.shape), rng.normal(size=ln.gamma.shape)])


def test_layernorm_shape_error():
    with pytest.raises(ValueError, match=r"trailing axes must be \(4,\)"):
        LayerNorm(4)(Tensor(np.zeros((2, 5))))


def test_mlp_and_block_gradcheck():
    rng = np.random.default_rng(2)
    mlp = MLP(4, 6)
    gradcheck(lambda t: mlp(t), [rng.normal(size=(2, 3, 4))])
    block = TransformerBlock(4, 2, mlp_ratio=2)

    def fn(t, gamma):
        block.ln1.gamma = gamma
        return block(t, mask=create_causal_mask(3))

    gradcheck(fn, [rng.normal(size=(2, 3, 4)), rng.normal(size=4)])


def tiny_gpt(**overrides):
    config = dict(vocab_size=7, embed_dim=8, num_layers=2, num_heads=2, max_seq_len=12)
    config.update(overrides)
    return GPT(**config)


def test_gpt_logits_shapes_and_input_kinds():
    model = tiny_gpt()
    tokens = np.array([[1, 2, 3], [4, 5, 6]])
    logits = model(tokens)
    assert logits.shape == (2, 3, 7) and logits.data.dtype == np.float32
    np.testing.assert_array_equal(model(Tensor(tokens)).data, logits.data)
    np.testing.assert_allclose(model([4, 5, 6]).data, logits.data[1], rtol=1e-6)  # 1-D -> (T, V)
    assert old_spelling.GPT is GPT
    assert model.lm_head.bias is None and GPT(7, 8, 1, 2).max_seq_len == 1024  # course defaults


def test_gpt_gradcheck_wrt_token_embedding():
    model = tiny_gpt(vocab_size=5, embed_dim=4, num_layers=1, max_seq_len=4)
    tokens = np.array([[1, 3, 1], [0, 4, 2]])

    def fn(table):
        model.token_embedding.weight = table
        return model(tokens)

    gradcheck(fn, [np.random.default_rng(3).normal(size=(5, 4))])


def test_gpt_is_causal():
    model = tiny_gpt()
    a = model(np.array([[1, 2, 3, 4, 5, 6]])).data
    b = model(np.array([[1, 2, 3, 0, 0, 1]])).data
    np.testing.assert_array_equal(a[:, :3], b[:, :3])
    assert np.abs(a[:, 3:] - b[:, 3:]).max() > 1e-4  # later positions do see the change


def test_gpt_rejects_bad_tokens_and_long_sequences():
    model = tiny_gpt()
    with pytest.raises(IndexError, match=r"\[0, 7\)"):
        model(np.array([[1, 9]]))
    with pytest.raises(ValueError, match="exceeds max_seq_len 12"):
        model(np.zeros((1, 13), dtype=np.int64))


def test_generate_greedy_is_argmax_of_logits():
    model = tiny_gpt()
    prompt = np.array([3, 1])
    out = model.generate(prompt, max_new_tokens=5, greedy=True)
    assert out.shape == (7,) and list(out[:2]) == [3, 1]
    for t in range(2, 7):
        assert out[t] == model(out[:t]).data[-1].argmax()
    np.testing.assert_array_equal(model.generate(prompt, 5, temperature=0), out)
    np.testing.assert_array_equal(model.generate(prompt, 5, top_k=1), out)
    as_tensor = model.generate(Tensor([[3, 1]]), max_new_tokens=5, greedy=True)  # course style
    assert isinstance(as_tensor, Tensor) and as_tensor.shape == (1, 7)
    np.testing.assert_array_equal(as_tensor.data[0], out)


def test_generate_is_deterministic_under_a_seed_and_crops_long_contexts():
    model = tiny_gpt()
    prompt = np.array([[1, 2], [3, 4]])
    tinytorch.manual_seed(7)
    first = model.generate(prompt, max_new_tokens=20, temperature=1.5)
    tinytorch.manual_seed(7)
    second = model.generate(prompt, max_new_tokens=20, temperature=1.5)
    np.testing.assert_array_equal(first, second)
    assert first.shape == (2, 22)  # longer than max_seq_len 12: the context window slides
    assert first.min() >= 0 and first.max() < 7


def test_top_k_restricts_samples():
    model = tiny_gpt()
    logits = model(np.array([2])).data[-1]
    top2 = set(np.argsort(logits)[-2:])
    samples = {int(model.generate([2], 1, temperature=5.0, top_k=2)[-1]) for _ in range(30)}
    assert samples <= top2


def test_gpt_learns_a_repeating_sequence():
    model = tiny_gpt(vocab_size=5, embed_dim=16, max_seq_len=10)
    data = np.tile(np.arange(5), 3)[None, :11]
    optimizer = Adam(model.parameters(), lr=0.01)
    loss_fn = CrossEntropyLoss()
    losses = []
    for _ in range(40):
        optimizer.zero_grad()
        loss = loss_fn(model(data[:, :10]).reshape(10, 5), data[0, 1:])
        loss.backward()
        optimizer.step()
        losses.append(float(loss.data))
    assert losses[0] > 1.3 and losses[-1] < 0.1
    np.testing.assert_array_equal(model.generate([0, 1], 6, greedy=True), [0, 1, 2, 3, 4, 0, 1, 2])
