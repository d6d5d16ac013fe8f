"""Generation strategies side by side: recompute vs KV cache, greedy vs temperature vs top-k.

Part 1 - the KV cache. Generating token n by re-running the whole context costs O(n) work per
token; YOUR KV cache keeps every layer's keys and values so each new token only computes itself.
It must be exact AND fast:
- `cached_logits_max_diff`: feed the same tokens once through the cache (one at a time) and once
  recomputed from scratch; the logits must agree to 1e-4;
- `kv_speedup`: CPU time of `generate()` without the cache / with the cache, same model, same
  prompt, same number of new tokens, measured in this run (best of several alternating runs of
  each, so other load on the machine does not decide it).

Part 2 - sampling. From a fixed context we ask YOUR `generate()` for thousands of next tokens
(one batch of identical prompts) and compare what it drew with the distribution computed here in
numpy from your model's logits:
- `greedy_matches_argmax`: top_k=1 picks the argmax of the logits at every step;
- `temperature_tv`: total-variation distance between the sampled frequencies and softmax(logits/T);
- `topk_violations` / `topk_tv`: top-k sampling never leaves the k best tokens, and inside them
  follows the renormalised softmax;
- `seeded_determinism`: the same seed gives the same sample.

Run it yourself: `python extras/03_generation_opts.py` (add `--quick` for a short run).
"""

from __future__ import annotations

import numpy as np
from _harness import metrics
from _harness.common import parse_args, seed_everything, to_numpy
from _harness.course import course_name, no_grad
from _harness.lm import import_gpt
from _harness.timing import best_ratios, interleaved_times

CONFIG = {
    # the cache model: a context long enough that recomputation, not Python overhead, dominates.
    # Cached and recomputing runs alternate; the best of `kv_repeats` of each counts.
    "full": dict(vocab_size=64, embed_dim=256, num_layers=4, num_heads=8, max_seq_len=256,
                 prompt_len=128, new_tokens=64, kv_repeats=3, samples=4000),
    "quick": dict(vocab_size=64, embed_dim=64, num_layers=2, num_heads=4, max_seq_len=256,
                  prompt_len=192, new_tokens=48, kv_repeats=5, samples=2000),
}
SAMPLER = dict(vocab_size=16, embed_dim=32, num_layers=1, num_heads=2, max_seq_len=16)
TEMPERATURE, TOP_K = 0.5, 4


def softmax(z: np.ndarray) -> np.ndarray:
    z = z.astype(np.float64) - z.max()
    e = np.exp(z)
    return e / e.sum()


def total_variation(samples: np.ndarray, probs: np.ndarray) -> float:
    freq = np.bincount(samples, minlength=len(probs)) / len(samples)
    return float(0.5 * np.abs(freq - probs).sum())


def cached_vs_recomputed(model, tokens: np.ndarray, prompt_len: int, tensor_cls, no_grad, enable, disable):
    """Max |logit difference| between cached one-token steps and a full recomputation."""
    cache = enable(model)
    try:
        with no_grad():
            out = to_numpy(model.forward(tensor_cls(tokens[None, :prompt_len]), kv_cache=cache))
            cached = [out[0, -1]]
            for i in range(prompt_len, len(tokens) - 1):
                step = model.forward(tensor_cls(tokens[None, i:i + 1]), kv_cache=cache)
                cached.append(to_numpy(step)[0, -1])
            full = to_numpy(model(tensor_cls(tokens[None, :-1])))[0, prompt_len - 1:]
    finally:
        disable(model)
    return float(np.abs(np.stack(cached).astype(np.float64) - full).max())


def main() -> int:
    args = parse_args(__doc__.splitlines()[0])
    seed_everything(args.seed)
    cfg = CONFIG["quick" if args.quick else "full"]
    from tinytorch.core.tensor import Tensor
    enable_kv_cache = course_name("memoization", "enable_kv_cache")
    disable_kv_cache = course_name("memoization", "disable_kv_cache")
    GPT = import_gpt()

    rng = np.random.default_rng(args.seed)
    v, p, n = cfg["vocab_size"], cfg["prompt_len"], cfg["new_tokens"]
    model = GPT(vocab_size=v, embed_dim=cfg["embed_dim"], num_layers=cfg["num_layers"],
                num_heads=cfg["num_heads"], max_seq_len=cfg["max_seq_len"])
    print(f"Part 1: a {cfg['num_layers']}-layer GPT of width {cfg['embed_dim']}; prompt of {p} tokens, "
          f"{n} new tokens.")

    tokens = rng.integers(0, v, size=p + n)
    diff = cached_vs_recomputed(model, tokens, p, Tensor, no_grad, enable_kv_cache, disable_kv_cache)
    print(f"  cached vs recomputed logits: max difference {diff:.2e}")

    prompt, outputs = tokens[None, :p], {}

    def greedy(name: str):
        def run():
            out = model.generate(Tensor(prompt), max_new_tokens=n, temperature=1.0, top_k=1)
            outputs[name] = np.asarray(to_numpy(out)).reshape(-1).astype(np.int64)
        return run

    variants = {"naive": (lambda: disable_kv_cache(model), greedy("naive")),
                "cached": (lambda: enable_kv_cache(model), greedy("cached"))}
    times = interleaved_times(variants, cfg["kv_repeats"])
    disable_kv_cache(model)
    naive_ids, cached_ids = outputs["naive"], outputs["cached"]
    naive_s, cached_s = min(times["naive"]["cpu"]), min(times["cached"]["cpu"])
    ratios = best_ratios(times, "naive", "cached")
    speedup, speedup_wall = ratios["cpu"], ratios["wall"]
    print(f"  generate(), best of {cfg['kv_repeats']} alternating runs: {naive_s:.2f} s CPU recomputing, "
          f"{cached_s:.2f} s with the cache -> {speedup:.1f}x faster (wall clock {speedup_wall:.1f}x); "
          f"same tokens: {np.array_equal(naive_ids, cached_ids)}")

    with no_grad():
        context = naive_ids[:p + n - 1]
        step_logits = to_numpy(model(Tensor(context[None])))[0, p - 1:]
    greedy_ok = bool(np.array_equal(naive_ids[p:], step_logits.argmax(axis=-1)))
    print(f"  top_k=1 picks the argmax at every step: {greedy_ok}")

    print(f"Part 2: sampling from a small GPT, {cfg['samples']} draws per strategy.")
    sampler = GPT(**SAMPLER)
    context = rng.integers(0, SAMPLER["vocab_size"], size=6)
    with no_grad():
        last_logits = to_numpy(sampler(Tensor(context[None])))[0, -1]
    batch = np.repeat(context[None], cfg["samples"], axis=0)

    def draw(**kwargs) -> np.ndarray:
        out = to_numpy(sampler.generate(Tensor(batch), max_new_tokens=1, **kwargs))
        return np.asarray(out).reshape(len(batch), -1)[:, -1].astype(np.int64)

    probs_t = softmax(last_logits / TEMPERATURE)
    temperature_tv = total_variation(draw(temperature=TEMPERATURE), probs_t)
    print(f"  temperature {TEMPERATURE}: total variation {temperature_tv:.3f} from softmax(logits/T)")

    best = np.argsort(last_logits)[::-1][:TOP_K]
    probs_k = np.zeros_like(probs_t)
    probs_k[best] = softmax(last_logits[best])
    drawn = draw(temperature=1.0, top_k=TOP_K)
    violations = int(np.sum(~np.isin(drawn, best)))
    topk_tv = total_variation(drawn, probs_k)
    print(f"  top-{TOP_K}: {violations} draws outside the top {TOP_K}; total variation {topk_tv:.3f}")

    def seeded_sample(seed: int) -> np.ndarray:
        seed_everything(seed)
        return to_numpy(sampler.generate(Tensor(context[None]), max_new_tokens=8, temperature=1.0))

    same = bool(np.array_equal(seeded_sample(args.seed), seeded_sample(args.seed)))
    print(f"  same seed, same sample: {same}")

    metrics.report("cached_logits_max_diff", diff)
    metrics.report("naive_generate_seconds", naive_s)
    metrics.report("cached_generate_seconds", cached_s)
    metrics.report("kv_speedup", speedup)
    metrics.report("kv_speedup_wall", speedup_wall)
    metrics.report("cached_tokens_match", bool(np.array_equal(naive_ids, cached_ids)))
    metrics.report("greedy_matches_argmax", greedy_ok)
    metrics.report("temperature_tv", temperature_tv)
    metrics.report("topk_violations", violations)
    metrics.report("topk_tv", topk_tv)
    metrics.report("seeded_determinism", same)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
