"""Baseline profile: measure YOUR GPT before optimising it (MLPerf, 2018: measure first).

Every optimisation starts from honest numbers. YOUR Profiler measures a fixed GPT, and this
script checks each number against what it must be:

- parameters: counted by your `Profiler.count_parameters`, compared with the analytic formula
  for this architecture (token and learned position embeddings, per block two LayerNorms, four
  attention projections and a 4x MLP with biases, a final LayerNorm and a bias-free vocabulary
  head, as in the course):  V*d + S*d + L*(4d^2 + 4d + 2*d*H + H + d + 4d) + 2d + d*V;
- FLOPs of one forward pass per sample (a multiply-accumulate counts 2, as usual), from your
  `Profiler.count_flops`, against  L*(8*T*d^2 + 4*T^2*d + 4*T*d*H) + 2*T*d*V;
- parameter memory from your `Profiler.measure_memory`, against 4 bytes per float32 parameter;
- latency from your `Profiler.measure_latency`, against a stopwatch in this script;
- the KV-cache speedup of `generate()`, measured in this run (the baseline the next extras beat):
  CPU time recomputing / CPU time with the cache, best of several alternating runs of each.

Run it yourself: `python extras/01_baseline_profile.py` (add `--quick` for a short run).
"""

from __future__ import annotations

import time

import numpy as np
from _harness import metrics
from _harness.common import parse_args, seed_everything, to_numpy
from _harness.course import course_name, no_grad
from _harness.lm import import_gpt
from _harness.timing import best_ratios, interleaved_times

# The KV-cache timing uses a long prompt: recomputing costs O(context) per token while the cache
# costs O(1) plus attention over the context, so the cache's advantage is clear even on a small
# model, well above Python's fixed per-call overhead. Cached and recomputing runs alternate and
# the best of `kv_repeats` of each counts (see _harness/timing.py).
CONFIG = {
    "full": dict(vocab_size=64, embed_dim=128, num_layers=4, num_heads=4, max_seq_len=256, seq_len=64,
                 prompt_len=160, new_tokens=64, kv_repeats=3, latency_iterations=20),
    "quick": dict(vocab_size=64, embed_dim=64, num_layers=2, num_heads=4, max_seq_len=256, seq_len=48,
                  prompt_len=160, new_tokens=32, kv_repeats=5, latency_iterations=5),
}
MLP_RATIO = 4


def analytic_parameters(v: int, d: int, layers: int, s: int) -> int:
    """Parameters of the course GPT, from its configuration alone."""
    h = MLP_RATIO * d
    per_block = (2 * d) + (4 * d * d + 4 * d) + (2 * d) + (d * h + h + h * d + d)
    return v * d + s * d + layers * per_block + 2 * d + d * v


def analytic_flops(v: int, d: int, layers: int, t: int) -> int:
    """Forward FLOPs per sample for a T-token input (2 per multiply-accumulate; embeddings are lookups)."""
    h = MLP_RATIO * d
    return layers * (8 * t * d * d + 4 * t * t * d + 4 * t * d * h) + 2 * t * d * v


def parameter_bytes(memory) -> float:
    """The parameter memory your Profiler reports (bytes), from its dict or number."""
    if isinstance(memory, dict):
        if "parameter_bytes" in memory:
            return float(memory["parameter_bytes"])
        if "parameter_memory_mb" in memory:
            return float(memory["parameter_memory_mb"]) * 1024 * 1024
        raise KeyError(f"measure_memory returned keys {sorted(memory)}; expected 'parameter_memory_mb'")
    return float(memory)


def stopwatch_ms(fn, iterations: int) -> float:
    """Median wall time of fn() in milliseconds, after one warm-up call."""
    fn()
    times = []
    for _ in range(iterations):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return float(np.median(times) * 1000)


def main() -> int:
    args = parse_args(__doc__.splitlines()[0])
    seed_everything(args.seed)
    cfg = CONFIG["quick" if args.quick else "full"]
    from tinytorch.core.tensor import Tensor
    enable_kv_cache = course_name("memoization", "enable_kv_cache")
    disable_kv_cache = course_name("memoization", "disable_kv_cache")
    Profiler = course_name("profiling", "Profiler")
    GPT = import_gpt()

    v, d, layers, s, t = (cfg[k] for k in ("vocab_size", "embed_dim", "num_layers", "max_seq_len", "seq_len"))
    model = GPT(vocab_size=v, embed_dim=d, num_layers=layers, num_heads=cfg["num_heads"], max_seq_len=s)
    profiler = Profiler()
    x = Tensor(np.random.default_rng(args.seed).integers(0, v, size=(1, t)))
    print(f"Profiling GPT(vocab={v}, width={d}, layers={layers}, heads={cfg['num_heads']}, "
          f"max_seq_len={s}) on {t} tokens.")

    params, params_expected = int(profiler.count_parameters(model)), analytic_parameters(v, d, layers, s)
    params_direct = int(sum(p.data.size for p in model.parameters()))
    print(f"  parameters: Profiler {params:,}; formula {params_expected:,}; sum of parameters() "
          f"{params_direct:,}")

    flops, flops_expected = int(profiler.count_flops(model, (1, t))), analytic_flops(v, d, layers, t)
    print(f"  FLOPs per forward pass: Profiler {flops:,}; formula {flops_expected:,}")

    mem = parameter_bytes(profiler.measure_memory(model, x))
    mem_error = abs(mem - 4 * params_expected) / (4 * params_expected)
    print(f"  parameter memory: Profiler {mem / 1024:.1f} KiB; 4 bytes x {params_expected:,} = "
          f"{4 * params_expected / 1024:.1f} KiB (relative error {mem_error:.2%})")

    latency = float(profiler.measure_latency(model, x, warmup=2, iterations=cfg["latency_iterations"]))

    def forward():
        with no_grad():
            model(x)

    own = stopwatch_ms(forward, cfg["latency_iterations"])
    print(f"  latency: Profiler {latency:.2f} ms; stopwatch {own:.2f} ms (ratio {latency / own:.2f})")

    prompt = Tensor(np.random.default_rng(args.seed + 1).integers(0, v, size=(1, cfg["prompt_len"])))

    def generate():
        to_numpy(model.generate(prompt, max_new_tokens=cfg["new_tokens"], temperature=1.0, top_k=1))

    times = interleaved_times({"naive": (lambda: disable_kv_cache(model), generate),
                               "cached": (lambda: enable_kv_cache(model), generate)}, cfg["kv_repeats"])
    disable_kv_cache(model)
    ratios = best_ratios(times, "naive", "cached")
    speedup, speedup_wall = ratios["cpu"], ratios["wall"]
    print(f"  generate {cfg['new_tokens']} tokens after a {cfg['prompt_len']}-token prompt, best of "
          f"{cfg['kv_repeats']} alternating runs: {min(times['naive']['cpu']):.3f} s CPU recomputing, "
          f"{min(times['cached']['cpu']):.3f} s with the KV cache ({speedup:.1f}x; "
          f"wall clock {speedup_wall:.1f}x)")

    metrics.report("parameter_count", params)
    metrics.report("parameter_count_expected", params_expected)
    metrics.report("parameter_count_error", abs(params - params_expected))
    metrics.report("flops", flops)
    metrics.report("flops_expected", flops_expected)
    metrics.report("flops_error", abs(flops - flops_expected))
    metrics.report("parameter_memory_rel_error", mem_error)
    metrics.report("latency_ms", latency)
    metrics.report("stopwatch_latency_ms", own)
    metrics.report("latency_ratio", latency / own)
    metrics.report("kv_speedup", speedup)
    metrics.report("kv_speedup_wall", speedup_wall)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
