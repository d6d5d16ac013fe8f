"""LayerNorm, MLP, TransformerBlock and GPT: values, gradients, causality, the course's generate()."""

import numpy as np
import pytest

from tests.tinytorch.gradcheck import gradcheck
from tinytorch.core import transformers as new_spelling
from tinytorch.core.embeddings import Embedding
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.optimizers import Adam
from tinytorch.core.tensor import Tensor
from tinytorch.core.transformer import GPT, MLP, LayerNorm, TransformerBlock, create_causal_mask


def test_layernorm_values():
    x = np.random.default_rng(0).normal(3, 2, size=(2, 3, 8)).astype(np.float32)
    ln = LayerNorm(8)
    assert ln.normalized_shape == 8 and ln.eps == 1e-5 and ln.parameters() == [ln.gamma, ln.beta]
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
    with pytest.raises(ValueError, match=r"LayerNorm\(4\) got input of shape \(2, 5\)"):
        LayerNorm(4)(Tensor(np.zeros((2, 5))))


def test_mlp_and_block_structure_and_gradcheck():
    rng = np.random.default_rng(2)
    mlp = MLP(4)
    assert (mlp.embed_dim, mlp.hidden_dim, mlp.linear1.weight.shape) == (4, 16, (4, 16))
    assert mlp.parameters() == mlp.linear1.parameters() + mlp.linear2.parameters()
    mlp = MLP(4, 6)
    gradcheck(lambda t: mlp(t), [rng.normal(size=(2, 3, 4))])
    block = TransformerBlock(4, 2, mlp_ratio=2)
    assert block.mlp.hidden_dim == 8 and (block.embed_dim, block.num_heads) == (4, 2)
    assert block.parameters() == (block.attention.parameters() + block.ln1.parameters()
                                  + block.ln2.parameters() + block.mlp.parameters())

    def fn(t, gamma):
        block.ln1.gamma = gamma
        return block(t, mask=create_causal_mask(3))

    gradcheck(fn, [rng.normal(size=(2, 3, 4)), rng.normal(size=4)])


def tiny_gpt(**overrides):
    config = dict(vocab_size=7, embed_dim=8, num_layers=2, num_heads=2, max_seq_len=12)
    config.update(overrides)
    return GPT(**config)


def test_gpt_structure_is_the_courses():
    model = tiny_gpt()
    assert isinstance(model.position_embedding, Embedding)
    assert model.position_embedding.weight.shape == (12, 8)
    assert len(model.blocks) == 2 and model.lm_head.bias is None and GPT(7, 8, 1, 2).max_seq_len == 1024
    expected = model.token_embedding.parameters() + model.position_embedding.parameters()
    for block in model.blocks:
        expected += block.parameters()
    assert model.parameters() == expected + model.ln_f.parameters() + model.lm_head.parameters()
    assert new_spelling.GPT is GPT and new_spelling.create_causal_mask is create_causal_mask


def test_gpt_logits_shapes_and_input_kinds():
    model = tiny_gpt()
    tokens = np.array([[1, 2, 3], [4, 5, 6]])
    logits = model(Tensor(tokens))
    assert logits.shape == (2, 3, 7) and logits.data.dtype == np.float32
    np.testing.assert_array_equal(model.forward(tokens).data, logits.data)
    with pytest.raises(ValueError, match=r"\(batch, seq\)"):
        model(Tensor([1, 2]))


def test_gpt_gradcheck_wrt_token_embedding():
    model = tiny_gpt(vocab_size=5, embed_dim=4, num_layers=1, max_seq_len=4)
    tokens = Tensor([[1, 3, 1], [0, 4, 2]])

    def fn(table):
        model.token_embedding.weight = table
        return model(tokens)

    gradcheck(fn, [np.random.default_rng(3).normal(size=(5, 4))])


def test_gpt_is_causal_and_attends_to_content():
    model = tiny_gpt()
    a = model(Tensor([[1, 2, 3, 4, 5, 6]])).data
    b = model(Tensor([[1, 2, 3, 0, 0, 1]])).data
    np.testing.assert_array_equal(a[:, :3], b[:, :3])
    assert np.abs(a[:, 3:] - b[:, 3:]).max() > 1e-4  # later positions do see the change
    c = model(Tensor([[5, 2, 3]])).data  # a different first token changes every later position
    assert np.abs(a[0, 1:3] - c[0, 1:3]).max() > 1e-4


def test_gpt_rejects_bad_tokens_and_long_sequences():
    model = tiny_gpt()
    with pytest.raises(ValueError, match=r"0 <= indices < 7"):
        model(Tensor([[1, 9]]))
    with pytest.raises(ValueError, match=r"0 <= indices < 12"):  # positions past max_seq_len
        model(Tensor(np.zeros((1, 13))))


def test_generate_samples_softmax_of_scaled_logits_from_numpys_generator():
    model = tiny_gpt()
    prompt = Tensor([[3, 1]])
    np.random.seed(5)
    out = model.generate(prompt, max_new_tokens=6, temperature=0.7)
    assert isinstance(out, Tensor) and out.shape == (1, 8) and out.data[0, :2].tolist() == [3, 1]
    np.random.seed(5)
    for t in range(2, 8):  # replay: the same draws from np.random.choice give the same tokens
        logits = model(Tensor(out.data[:, :t])).data[0, -1] / 0.7
        probs = np.exp(logits - logits.max())
        probs /= probs.sum()
        assert np.random.choice(7, p=probs) == out.data[0, t]
    np.random.seed(5)
    np.testing.assert_array_equal(model.generate(prompt, 6, 0.7).data, out.data)
    assert tiny_gpt(max_seq_len=64).generate(prompt).shape == (1, 52)  # max_new_tokens=50 by default
    with pytest.raises(ValueError, match="indices < 12"):  # past max_seq_len, as the course
        model.generate(prompt, max_new_tokens=12)


def test_generate_low_temperature_is_nearly_greedy():
    model = tiny_gpt()
    out = model.generate(Tensor([[2]]), max_new_tokens=5, temperature=1e-3).data[0]
    for t in range(1, 6):
        assert out[t] == model(Tensor(out[None, :t])).data[0, -1].argmax()


def test_gpt_learns_a_repeating_sequence():
    model = tiny_gpt(vocab_size=5, embed_dim=16, max_seq_len=10)
    data = np.tile(np.arange(5), 3)[None, :11]
    optimizer = Adam(model.parameters(), lr=0.01)
    loss_fn = CrossEntropyLoss()
    losses = []
    for _ in range(40):
        optimizer.zero_grad()
        loss = loss_fn(model(Tensor(data[:, :10])).reshape(10, 5), Tensor(data[0, 1:]))
        loss.backward()
        optimizer.step()
        losses.append(float(loss.data))
    assert losses[0] > 1.3 and losses[-1] < 0.1
    out = model.generate(Tensor([[0, 1]]), 6, temperature=1e-3).data[0]
    np.testing.assert_array_equal(out, [0, 1, 2, 3, 4, 0, 1, 2])
