"""The language-model extras on a course-style package: they pass; one-place bugs fail the right check.

The package is tests/fixtures/course_tinytorch (the course's API and behaviour, see its README):
`GPT.forward(tokens)`, `generate(prompt, max_new_tokens, temperature)` with numpy's global RNG,
and the KV cache switched on by `enable_kv_cache(model)` and fed one token per forward. Each
broken copy below changes one place of it.
"""

from __future__ import annotations

import pytest

from tests.extras.conftest import COURSE, checks_by_name, failed_checks

pytestmark = pytest.mark.slow


# A KV cache that is consulted but does no caching: it remembers the tokens it was fed and runs the
# whole sequence through the model for every new one (exact, but as slow as recomputing).
RECOMPUTING_CACHE = '''

def enable_kv_cache(model):  # BUG: recomputes the whole sequence for every cached token
    cache = KVCache(1, model.max_seq_len, model.num_layers, model.num_heads,
                    model.embed_dim // model.num_heads)
    full_forward, seen = type(model).forward, []

    def forward(tokens):
        if tokens.shape[1] > 1:
            return full_forward(model, tokens)
        seen.append(tokens.data[0, 0])
        return Tensor(full_forward(model, Tensor(np.array([seen]))).data[:, -1:])

    model.forward, model._kv_cache, model._cache_enabled = forward, cache, True
    return cache


def disable_kv_cache(model):
    model.__dict__.pop("forward", None)
    model._cache_enabled = False
'''


def passes(result) -> dict:
    """The checks of a run that must have passed with full points."""
    assert result.verdict == "passed", (result.reason, failed_checks(result), result.run.stderr_tail)
    assert result.score == result.max_score > 0
    return checks_by_name(result)


def test_generation_opts_passes_on_the_course_package(run_extra):
    checks = passes(run_extra("generation_opts", COURSE))
    assert checks["kv_cache_exact"].value < 1e-5  # float32 rounding only (~2e-6 measured)
    assert checks["kv_cache_speedup"].value > 4.0  # ~8x measured; the rule is 3
    assert checks["temperature_distribution"].value < 0.05  # ~0.02 measured; the rule is 0.08
    assert checks["greedy_at_low_temperature"].value is True
    assert "seeded_determinism" not in checks  # feedback only: the 2026 course's generate seeds itself


def test_text_generation_passes_on_the_course_package(run_extra):
    result = run_extra("text_generation", COURSE)
    checks = passes(result)
    assert checks["causal"].value == 0.0
    assert checks["beats_bigram_on_heldout"].value > 0.3  # ~0.5 measured; the quick rule is 0.15
    assert checks["sample_decodes"].value is True


@pytest.mark.parametrize("criterion_id", ["tinytalks", "codebot", "quickdemo"])
def test_training_extras_pass_on_the_course_package(run_extra, criterion_id):
    passes(run_extra(criterion_id, COURSE))


def test_quickdemo_numbers_on_the_course_package(run_extra):
    checks = passes(run_extra("quickdemo", COURSE))
    assert 1.0 < checks["starts_near_chance"].value < 1.3  # the course's init: ~1.2 at seed 1337
    assert checks["cross_entropy_matches_numpy"].value < 1e-5


def test_attention_without_causal_mask_fails_causality(run_extra, course_copy):
    broken = course_copy("no_causal_mask", "core/transformer.py",
                         [("mask = self._create_causal_mask(seq_len)", "mask = None  # BUG")])
    result = run_extra("text_generation", broken)
    assert result.verdict == "failed"
    failed = failed_checks(result)
    assert "causal" in failed
    # the leak, as measured
    assert failed["causal"].startswith("causality_max_diff") and "allowed" in failed["causal"]
    # the host's (causal) rebuild of the exported weights cannot reproduce a model that sees the
    # future: every other check says so instead of grading a different model
    assert all("architecture mismatch" in reason for name, reason in failed.items() if name != "causal")


def test_softmax_over_wrong_axis_fails_causality(run_extra, course_copy):
    broken = course_copy("softmax_wrong_axis", "core/attention.py",
                         [("weights = Softmax()(scores, dim=-1)",
                           "weights = Softmax()(scores, dim=-2)  # BUG")])
    failed = failed_checks(run_extra("text_generation", broken))
    # normalising over the queries mixes later positions into earlier outputs
    assert "causal" in failed and "causality_max_diff" in failed["causal"]


def test_kv_cache_with_stale_keys_fails_exactness(run_extra, course_copy):
    write = ("        cache.update(layer_idx, Tensor(heads_of(attention.k_proj)), "
             "Tensor(heads_of(attention.v_proj)))\n")
    broken = course_copy("stale_kv_cache", "perf/memoization.py", [
        (write, "        if cache.seq_pos == 0:  # BUG: only the first token is ever stored\n    " + write)])
    result = run_extra("generation_opts", broken)
    assert result.verdict == "failed"
    failed = failed_checks(result)
    reason = failed["kv_cache_exact"]
    assert reason.startswith("cached_logits_max_diff") and "allowed" in reason
    assert "temperature_distribution" not in failed  # sampling never uses the cache
    # the failed check probes one component: the report's diagnosis names it, not a layer
    assert result.diagnosis.component == "tinytorch.perf.memoization.enable_kv_cache"
    assert result.diagnosis.summary.startswith(
        "`tinytorch.perf.memoization.enable_kv_cache`: kv_cache_exact failed")


def test_kv_cache_that_recomputes_everything_fails_speedup(run_extra, course_copy):
    tail = 'print("KV cache disabled, original attention restored")\n'
    broken = course_copy("recomputing_kv_cache", "perf/memoization.py", [(tail, tail + RECOMPUTING_CACHE)])
    result = run_extra("generation_opts", broken)
    failed = failed_checks(result)
    assert set(failed) == {"kv_cache_speedup"}, failed  # exact, so only the timing exposes it
    assert failed["kv_cache_speedup"].startswith("kv_speedup") and "required" in failed["kv_cache_speedup"]
    assert checks_by_name(result)["kv_cache_speedup"].value < 1.5


def test_generate_that_ignores_temperature_fails_sampling(run_extra, course_copy):
    broken = course_copy("ignores_temperature", "core/transformer.py",
                         [("last = self.forward(tokens).data[:, -1, :] / temperature",
                           "last = self.forward(tokens).data[:, -1, :]  # BUG: temperature ignored")])
    failed = failed_checks(run_extra("generation_opts", broken))
    assert set(failed) == {"temperature_distribution", "greedy_at_low_temperature"}, failed
    assert failed["temperature_distribution"].startswith("temperature_tv")


def test_logits_of_the_wrong_shape_stop_with_a_clear_message(run_extra, course_copy):
    broken = course_copy("flat_logits", "core/transformer.py", [
        ("return self.lm_head.forward(self.ln_f.forward(x))",
         "return self.lm_head.forward(self.ln_f.forward(x)).reshape(-1, self.vocab_size)  # BUG")])
    result = run_extra("quickdemo", broken)
    assert result.verdict == "crashed"
    assert "GPT returned logits of shape" in result.run.stderr_tail
    assert "expected (batch, seq, vocab)" in result.run.stderr_tail
