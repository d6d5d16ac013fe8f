"""Broken copies of the reference fail the right check of the right extra, for the right reason."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


def failed_checks(result) -> dict[str, str]:
    return {check.name: check.reason for check in result.checks if check.verdict == "failed"}


def test_attention_without_causal_mask_fails_causality(run_extra, patched_submission):
    broken = patched_submission("no_causal_mask", {"core/transformers.py": [
        ("mask = causal_mask_array(ids.shape[1], start)", "mask = None"),
    ]})
    result = run_extra("text_generation", broken)
    assert result.verdict == "failed"
    failed = failed_checks(result)
    assert "causal" in failed
    assert "causality_max_diff" in failed["causal"] and "allowed" in failed["causal"]
    assert "sample_decodes" not in failed  # generation still runs: only the probe exposes the leak


def test_softmax_over_wrong_axis_fails_causality(run_extra, patched_submission):
    broken = patched_submission("softmax_wrong_axis", {"core/attention.py": [
        ("scores = scores - scores.max(axis=-1, keepdims=True)",
         "scores = scores - scores.max(axis=-2, keepdims=True)"),
        ("weights /= weights.sum(axis=-1, keepdims=True)", "weights /= weights.sum(axis=-2, keepdims=True)"),
    ]})
    result = run_extra("text_generation", broken)
    assert result.verdict == "failed"
    failed = failed_checks(result)
    # normalising over the queries mixes later positions into earlier outputs
    assert "causal" in failed and "causality_max_diff" in failed["causal"]


def test_kv_cache_with_stale_keys_fails_exactness(run_extra, patched_submission):
    broken = patched_submission("stale_kv_cache", {"perf/memoization.py": [
        ("        self.keys[layer_idx, :, :, self.seq_pos:self.seq_pos + t] = key\n",
         "        if self.seq_pos == 0:  # BUG: keys of the prompt only; later steps read stale ones\n"
         "            self.keys[layer_idx, :, :, self.seq_pos:self.seq_pos + t] = key\n"),
    ]})
    result = run_extra("generation_opts", broken)
    assert result.verdict == "failed"
    failed = failed_checks(result)
    assert "kv_cache_exact" in failed
    reason = failed["kv_cache_exact"]
    assert reason.startswith("cached_logits_max_diff") and "allowed" in reason
    assert "temperature_distribution" not in failed  # sampling without the cache is still right


def test_logits_of_the_wrong_shape_stop_with_a_clear_message(run_extra, patched_submission):
    broken = patched_submission("flat_logits", {"core/transformers.py": [
        ("        return logits\n", "        return logits.reshape(-1, self.vocab_size)  # BUG: flattened\n"),
    ]})
    result = run_extra("quickdemo", broken)
    assert result.verdict == "crashed"
    assert "GPT returned logits of shape" in result.run.stderr_tail
    assert "expected (batch, seq, vocab)" in result.run.stderr_tail
