"""KVCache bookkeeping, and cached generation equal to full recomputation."""

import numpy as np
import pytest

import tinytorch
from tinytorch.core.autograd import no_grad
from tinytorch.core.transformers import GPT
from tinytorch.perf.memoization import KVCache, disable_kv_cache, enable_kv_cache


def test_cache_update_get_advance_reset():
    cache = KVCache(batch_size=1, max_seq_len=5, num_layers=2, num_heads=1, head_dim=2)
    k1 = np.arange(6, dtype=np.float32).reshape(1, 1, 3, 2)
    cache.update(0, k1, -k1)
    keys, values = cache.get(0)
    np.testing.assert_array_equal(keys, k1)
    np.testing.assert_array_equal(values, -k1)
    assert cache.seq_pos == 0  # not committed until advance()
    cache.advance()
    k2 = np.full((1, 1, 1, 2), 9, dtype=np.float32)
    cache.update(0, k2, k2)
    keys, _ = cache.get(0)
    assert keys.shape == (1, 1, 4, 2)
    np.testing.assert_array_equal(keys[0, 0, 3], [9, 9])
    cache.advance()
    assert cache.seq_pos == 4
    cache.reset(batch_size=3)
    assert cache.seq_pos == 0 and cache.get(1)[0].shape == (3, 1, 0, 2)
    assert cache.memory_bytes() == 2 * 2 * 3 * 1 * 5 * 2 * 4  # keys+values, layers, batch, h, T, hd, f32


def test_cache_errors():
    cache = KVCache(1, 2, 1, 1, 2)
    with pytest.raises(ValueError, match="KVCache is full"):
        cache.update(0, np.zeros((1, 1, 3, 2)), np.zeros((1, 1, 3, 2)))
    with pytest.raises(ValueError, match=r"head_dim=2"):
        cache.update(0, np.zeros((1, 1, 1, 3)), np.zeros((1, 1, 1, 3)))
    with pytest.raises(IndexError, match=r"layer_idx 1 out of range \[0, 1\)"):
        cache.get(1)
    with pytest.raises(ValueError, match="batch_size"):
        KVCache(0, 2, 1, 1, 2)
    with pytest.raises(TypeError, match="tinytorch GPT"):
        enable_kv_cache(object())


def small_gpt():
    return GPT(vocab_size=11, embed_dim=16, num_layers=2, num_heads=4, max_seq_len=24)


def test_incremental_logits_equal_full_recomputation():
    model = small_gpt()
    tokens = np.random.default_rng(0).integers(0, 11, size=(2, 20))
    cache = enable_kv_cache(model, batch_size=2)
    assert (cache.num_layers, cache.num_heads, cache.head_dim) == (2, 4, 4)
    with no_grad():
        full = model(tokens).data
        steps = [model(tokens[:, :5], kv_cache=cache).data]
        steps += [model(tokens[:, t:t + 1], kv_cache=cache).data for t in range(5, 20)]
    np.testing.assert_allclose(np.concatenate(steps, axis=1), full, atol=1e-4, rtol=0)
    assert cache.seq_pos == 20


def test_cached_generation_equals_uncached():
    model = small_gpt()
    prompt = np.array([[1, 2, 3], [4, 5, 6]])
    plain_greedy = model.generate(prompt, 30, greedy=True)  # runs past max_seq_len 24
    tinytorch.manual_seed(3)
    plain_sampled = model.generate(prompt, 15, temperature=1.0)
    enable_kv_cache(model)
    np.testing.assert_array_equal(model.generate(prompt, 30, greedy=True), plain_greedy)
    tinytorch.manual_seed(3)
    np.testing.assert_array_equal(model.generate(prompt, 15, temperature=1.0), plain_sampled)
    disable_kv_cache(model)
    assert model.kv_cache is None


def test_cached_generation_feeds_one_token_per_step():
    model = small_gpt()
    seen = []
    original = model.forward

    def recording_forward(tokens, kv_cache=None):
        seen.append((np.asarray(tokens).shape[-1], kv_cache is not None))
        return original(tokens, kv_cache=kv_cache)

    model.forward = recording_forward
    model.generate([1, 2, 3, 4], 6, greedy=True)
    assert seen == [(4, False), (5, False), (6, False), (7, False), (8, False), (9, False)]
    seen.clear()
    enable_kv_cache(model)
    model.generate([1, 2, 3, 4], 6, greedy=True)
    assert seen == [(4, True)] + [(1, True)] * 5  # prefill once, then only the new token
