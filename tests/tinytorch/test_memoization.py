"""KVCache bookkeeping (the course's API) and the course's cached-decoding protocol, which must give
the same logits as a full recomputation."""

import numpy as np
import pytest

from tinytorch.core.tensor import Tensor
from tinytorch.core.transformer import GPT
from tinytorch.perf.memoization import KVCache, create_kv_cache, disable_kv_cache, enable_kv_cache


def test_cache_update_get_advance_reset():
    cache = KVCache(batch_size=1, max_seq_len=5, num_layers=2, num_heads=1, head_dim=2)
    assert len(cache.caches) == 2 and cache.caches[0][0].shape == (1, 1, 5, 2) and cache.seq_pos == 0
    k1 = Tensor(np.arange(2).reshape(1, 1, 1, 2))
    cache.update(0, k1, k1 * -1)
    assert cache.get(0)[0].shape == (1, 1, 0, 2)  # get() returns the positions already advanced past
    cache.advance()
    keys, values = cache.get(0)
    assert isinstance(keys, Tensor) and keys.data.tolist() == [[[[0.0, 1.0]]]]
    assert values.data.tolist() == [[[[0.0, -1.0]]]]
    cache.update(0, Tensor(np.full((1, 1, 1, 2), 9)), Tensor(np.zeros((1, 1, 1, 2))))
    cache.advance()
    assert cache.get(0)[0].data[0, 0].tolist() == [[0.0, 1.0], [9.0, 9.0]]
    cache.reset()
    assert cache.seq_pos == 0 and not cache.caches[0][0].data.any()


def test_cache_errors_and_memory_usage():
    cache = create_kv_cache(2, 3, 2, 4, 8)
    assert isinstance(cache, KVCache)
    usage = cache.get_memory_usage()
    assert usage["total_elements"] == 2 * 4 * 3 * 8 * 4 and usage["cache_tensors"] == 4
    assert usage["total_mb"] == pytest.approx(usage["total_elements"] * 4 / 2**20)
    assert usage["per_layer_mb"] == pytest.approx(usage["total_mb"] / 2)
    with pytest.raises(ValueError, match="Layer index 2 >= num_layers 2"):
        cache.get(2)
    cache.seq_pos = 3
    with pytest.raises(ValueError, match="Sequence position 3 >= max_seq_len 3"):
        cache.update(0, Tensor(np.zeros((2, 4, 1, 8))), Tensor(np.zeros((2, 4, 1, 8))))


def small_gpt():
    np.random.seed(0)
    return GPT(vocab_size=11, embed_dim=16, num_layers=3, num_heads=4, max_seq_len=24)


def cached_logits(model, tokens):
    """The course's protocol: one token per forward, advance() after each."""
    cache = model._kv_cache
    steps = []
    for t in range(tokens.shape[1]):
        steps.append(model.forward(Tensor(tokens[:, t:t + 1])).data)
        cache.advance()
    return np.concatenate(steps, axis=1)


def test_enable_patches_the_model_as_the_course():
    model = small_gpt()
    cache = enable_kv_cache(model)
    assert model._kv_cache is cache and model._cache_enabled
    sizes = (cache.batch_size, cache.max_seq_len, cache.num_layers, cache.num_heads, cache.head_dim)
    assert sizes == (1, 24, 3, 4, 4)
    assert all(hasattr(block, "_original_attention_forward") for block in model.blocks)
    assert all("forward" in vars(block.attention) for block in model.blocks)
    disable_kv_cache(model)
    assert not model._cache_enabled and not hasattr(model, "_kv_cache")
    disable_kv_cache(model)  # a second call is harmless
    with pytest.raises(AttributeError, match="Model missing 'embed_dim'"):
        enable_kv_cache(object())


def test_cached_logits_equal_full_recomputation():
    model = small_gpt()
    tokens = np.random.default_rng(1).integers(0, 11, size=(1, 20))
    full = model.forward(Tensor(tokens)).data
    enable_kv_cache(model)
    np.testing.assert_allclose(cached_logits(model, tokens), full, atol=1e-5, rtol=0)
    assert model._kv_cache.seq_pos == 20
    model._kv_cache.reset()  # a second sequence after reset() is exact too
    other = np.random.default_rng(2).integers(0, 11, size=(1, 24))
    full = model.forward(Tensor(other)).data
    np.testing.assert_allclose(cached_logits(model, other), full, atol=1e-5, rtol=0)


def test_each_layer_uses_its_own_block_and_the_first_token_is_cached():
    model = small_gpt()
    tokens = np.array([[3, 1, 4, 1, 5]])
    enable_kv_cache(model)
    cached_logits(model, tokens)
    keys = [k.data[0, :, :5] for k, _ in model._kv_cache.caches]
    assert all(np.abs(k[:, 0]).max() > 0 for k in keys)  # position 0 was stored
    assert not np.allclose(keys[0], keys[1])  # layers differ: each used its own projections


def test_longer_inputs_run_the_normal_forward_and_disable_restores():
    model = small_gpt()
    tokens = np.random.default_rng(3).integers(0, 11, size=(1, 10))
    full = model.forward(Tensor(tokens)).data
    enable_kv_cache(model)
    np.testing.assert_array_equal(model.forward(Tensor(tokens)).data, full)  # seq > 1: uncached
    assert model._kv_cache.seq_pos == 0
    disable_kv_cache(model)
    np.testing.assert_allclose(model.forward(Tensor(tokens[:, :1])).data, full[:, :1], atol=1e-5, rtol=0)


def test_cached_decoding_is_faster_for_long_contexts():
    import time

    np.random.seed(0)
    model = GPT(vocab_size=11, embed_dim=32, num_layers=2, num_heads=4, max_seq_len=128)
    tokens = np.random.default_rng(4).integers(0, 11, size=(1, 96))
    start = time.perf_counter()
    for t in range(1, 97):
        model.forward(Tensor(tokens[:, :t]))
    uncached = time.perf_counter() - start
    enable_kv_cache(model)
    start = time.perf_counter()
    cached_logits(model, tokens)
    assert time.perf_counter() - start < uncached
