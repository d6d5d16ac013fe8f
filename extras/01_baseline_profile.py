"""Baseline profile: measure a model before optimising it (MLPerf, 2018: measure first).

Every optimisation starts from honest numbers. YOUR Profiler (the course's Module 14) measures a
small MLP built from YOUR Linear and ReLU layers, kept in `model.layers` as the course's models
are, and this script checks each number against what it must be:

- parameters: `Profiler.count_parameters(model)` against in*out + out per Linear layer (exact);
- FLOPs: `Profiler.count_flops(model, (1, in))` against the course's convention, 2*in*out per
  Linear layer (a multiply-accumulate counts 2) plus one per element an activation reads. The
  input has a batch of one, so counting per sample or per batch gives the same number;
- parameter memory: `measure_memory(model, (1, in))["parameter_memory_mb"]` against 4 bytes per
  float32 parameter;
- latency: `measure_latency(model, x)` against a stopwatch around `model.forward(x)` here;
- the speedup YOUR KV cache gives greedy decoding with YOUR GPT, in the course's protocol:
  `cache = enable_kv_cache(model)`, one token per `model.forward` (2026: inside
  `cache.generation()`, with `start_pos`), `cache.advance()` after each, against
  `disable_kv_cache(model)` and a forward pass over the whole context per new token. Best CPU
  time of several alternating runs of each.

Run it yourself: `python extras/01_baseline_profile.py` (add `--quick` for a short run).
"""

from __future__ import annotations

import contextlib
import time

import numpy as np
from _harness import metrics
from _harness.common import parse_args, seed_everything, to_numpy
from _harness.course import CachedDecoder, course_name, no_grad
from _harness.lm import import_gpt
from _harness.mlp import LayerMLP
from _harness.timing import best_ratios, interleaved_times

# The KV-cache timing decodes after a long prompt: recomputing costs O(context) per new token,
# the cache O(1) plus attention over the context, so the cache's advantage is clear even on a
# small model, well above Python's fixed per-call cost. The prompt is fed to the cache before the
# clock starts (the recomputing side has no such step), so both sides time the same new tokens.
CONFIG = {
    "full": dict(mlp=(784, 256, 128, 10), latency_iterations=30, vocab_size=64, embed_dim=128,
                 num_layers=4, num_heads=4, max_seq_len=256, prompt_len=160, new_tokens=64, kv_repeats=3),
    "quick": dict(mlp=(784, 128, 64, 10), latency_iterations=20, vocab_size=64, embed_dim=64,
                  num_layers=2, num_heads=4, max_seq_len=256, prompt_len=160, new_tokens=32, kv_repeats=5),
}
LATENCY_BATCH = 32


def expected_parameters(sizes) -> int:
    """Weights and biases of the Linear layers."""
    return sum(n_in * n_out + n_out for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True))


def expected_flops(sizes) -> int:
    """The course's count for one sample: 2*in*out per Linear, one per activation input element."""
    return sum(2 * n_in * n_out for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True)) + sum(sizes[1:-1])


def parameter_megabytes(memory) -> float:
    """``parameter_memory_mb`` from the dict YOUR ``measure_memory`` returns; a clear stop without it."""
    if not isinstance(memory, dict) or "parameter_memory_mb" not in memory:
        raise SystemExit(f"Profiler.measure_memory returned {memory!r}; the course's returns a dict with "
                         "'parameter_memory_mb'")
    return float(memory["parameter_memory_mb"])


def stopwatch_ms(fn, iterations: int) -> float:
    """Median wall time of fn() in milliseconds, after one warm-up call."""
    fn()
    times = []
    for _ in range(iterations):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return float(np.median(times) * 1000)


def profile_mlp(cfg: dict, seed: int) -> None:
    """Check YOUR Profiler's numbers for an MLP against formulas and a stopwatch; report them."""
    from tinytorch.core.activations import ReLU
    from tinytorch.core.layers import Linear
    from tinytorch.core.tensor import Tensor
    profiler = course_name("profiling", "Profiler")()
    sizes = cfg["mlp"]
    model = LayerMLP(sizes, Linear, ReLU)
    print(f"Profiling an MLP {' -> '.join(map(str, sizes))} (ReLU between layers):")

    params, params_expected = int(profiler.count_parameters(model)), expected_parameters(sizes)
    print(f"  parameters: Profiler {params:,}; in*out + out per Linear {params_expected:,}")
    flops, flops_expected = int(profiler.count_flops(model, (1, sizes[0]))), expected_flops(sizes)
    flops_error = abs(flops - flops_expected) / flops_expected
    print(f"  FLOPs for one sample: Profiler {flops:,}; course convention {flops_expected:,} "
          f"(relative error {flops_error:.2%})")
    memory = parameter_megabytes(profiler.measure_memory(model, (1, sizes[0]))) * 2**20
    memory_error = abs(memory - 4 * params_expected) / (4 * params_expected)
    print(f"  parameter memory: Profiler {memory / 1024:.1f} KiB; 4 bytes x {params_expected:,} = "
          f"{4 * params_expected / 1024:.1f} KiB (relative error {memory_error:.2%})")

    x = Tensor(np.random.default_rng(seed).standard_normal((LATENCY_BATCH, sizes[0])).astype(np.float32))
    latency = float(profiler.measure_latency(model, x, warmup=2, iterations=cfg["latency_iterations"]))
    own = stopwatch_ms(lambda: model.forward(x), cfg["latency_iterations"])
    print(f"  latency for a batch of {LATENCY_BATCH}: Profiler {latency:.3f} ms; stopwatch {own:.3f} ms "
          f"(ratio {latency / own:.2f})")

    metrics.report("parameter_count", params)
    metrics.report("parameter_count_expected", params_expected)
    metrics.report("parameter_count_error", abs(params - params_expected))
    metrics.report("flops", flops)
    metrics.report("flops_expected", flops_expected)
    metrics.report("flops_rel_error", flops_error)
    metrics.report("parameter_memory_rel_error", memory_error)
    metrics.report("latency_ms", latency)
    metrics.report("stopwatch_latency_ms", own)
    metrics.report("latency_ratio", latency / own)


def decoding_variants(model, prompt: list[int], new_tokens: int, state: dict) -> dict:
    """``interleaved_times`` variants: greedy decoding with YOUR KV cache, and recomputing the context.

    ``state`` carries the cache from the untimed prefill to the timed run; each run leaves its new
    tokens in ``state["cached"]`` or ``state["recomputed"]``.
    """
    from tinytorch.core.tensor import Tensor
    enable_kv_cache = course_name("memoization", "enable_kv_cache")
    disable_kv_cache = course_name("memoization", "disable_kv_cache")

    def prefill():
        state["scope"] = contextlib.ExitStack()
        state["decoder"] = state["scope"].enter_context(CachedDecoder(model, Tensor, enable_kv_cache))
        state["scope"].enter_context(no_grad())
        for token in prompt:
            state["logits"] = state["decoder"].step(token)

    def cached():
        state["cached"] = []
        with state["scope"]:
            for _ in range(new_tokens):
                state["cached"].append(int(np.argmax(state["logits"])))
                state["logits"] = state["decoder"].step(state["cached"][-1])

    def recompute():
        context = list(prompt)
        with no_grad():
            for _ in range(new_tokens):
                context.append(int(np.argmax(to_numpy(model.forward(Tensor(np.array([context]))))[0, -1])))
        state["recomputed"] = context[len(prompt):]

    return {"recompute": (lambda: disable_kv_cache(model), recompute), "cached": (prefill, cached)}


def common_prefix(a: list[int], b: list[int]) -> int:
    """How many leading tokens two sequences share."""
    return next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))


def kv_speedup(cfg: dict, seed: int) -> None:
    """Time greedy decoding with and without YOUR KV cache; report the ratio."""
    v, d, layers, heads = (cfg[k] for k in ("vocab_size", "embed_dim", "num_layers", "num_heads"))
    model = import_gpt()(vocab_size=v, embed_dim=d, num_layers=layers, num_heads=heads,
                         max_seq_len=cfg["max_seq_len"])
    prompt = [int(t) for t in np.random.default_rng(seed + 1).integers(0, v, size=cfg["prompt_len"])]
    print(f"Greedy decoding with GPT(vocab={v}, width={d}, layers={layers}, heads={heads}):")
    state: dict = {}
    times = interleaved_times(decoding_variants(model, prompt, cfg["new_tokens"], state), cfg["kv_repeats"])
    ratios = best_ratios(times, "recompute", "cached")
    print(f"  {cfg['new_tokens']} new tokens after a {cfg['prompt_len']}-token prompt, best of "
          f"{cfg['kv_repeats']} alternating runs: {min(times['recompute']['cpu']):.3f} s CPU recomputing, "
          f"{min(times['cached']['cpu']):.3f} s with the KV cache ({ratios['cpu']:.1f}x; "
          f"wall clock {ratios['wall']:.1f}x)")
    agree = common_prefix(state["cached"], state["recomputed"]) / cfg["new_tokens"]
    print(f"  the cached decoding repeats the recomputed one for {agree:.0%} of the new tokens "
          "(not graded here; 03_generation_opts.py checks the cache's logits)")
    metrics.report("kv_speedup", ratios["cpu"])
    metrics.report("kv_speedup_wall", ratios["wall"])
    metrics.report("kv_tokens_agree", agree)


def main() -> int:
    args = parse_args(__doc__.splitlines()[0])
    seed_everything(args.seed)
    cfg = CONFIG["quick" if args.quick else "full"]
    profile_mlp(cfg, args.seed)
    kv_speedup(cfg, args.seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
