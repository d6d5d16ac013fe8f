"""Baseline profile: measure a model before optimising it (MLPerf, 2018: measure first).

Every optimisation starts from honest numbers. YOUR Profiler (the course's Module 14) measures a
small MLP built from YOUR Linear and ReLU layers, kept in `model.layers` as the course's models
are, and each number is checked against what it must be:

- parameters: `Profiler.count_parameters(model)` against in*out + out per Linear layer (exact);
- FLOPs: `Profiler.count_flops(model, (1, in))` against the course's convention, 2*in*out per
  Linear layer (a multiply-accumulate counts 2) plus one per element an activation reads. The
  input has a batch of one, so counting per sample or per batch gives the same number;
- parameter memory: `measure_memory(model, (1, in))["parameter_memory_mb"]` against 4 bytes per
  float32 parameter;
- latency: `measure_latency(model, x)` against the RUNNER's clock around repeated
  `model.forward(x)` calls on a batch it reveals when its clock starts (_harness/phases.py);
- the speedup YOUR KV cache gives greedy decoding with YOUR GPT, in the course's protocol:
  `cache = enable_kv_cache(model)`, one token per `model.forward` (2026: inside
  `cache.generation()`, with `start_pos`), `cache.advance()` after each, against
  `disable_kv_cache(model)` and a forward pass over the whole context per new token, timed by the
  runner in alternating phases (_harness/decode_timing.py). Best time of each side.

Under the harness the layer sizes, the MLP's weights and the latency batch are the grader's,
drawn for this run; the host computes every number's check from what this script records.

Run it yourself: `python extras/01_baseline_profile.py` (add `--quick` for a short run).
"""

from __future__ import annotations

import numpy as np
from _harness import evidence, metrics
from _harness.baseline import (
    CONFIG,
    LATENCY_BATCH,
    LATENCY_PHASE_FORWARDS,
    expected_flops,
    expected_parameters,
)
from _harness.common import parse_args, seed_everything, to_numpy
from _harness.course import course_name
from _harness.decode_timing import decode_phases
from _harness.export import named_arrays
from _harness.lm import import_gpt
from _harness.mlp import LayerMLP
from _harness.phases import run_phase


def parameter_megabytes(memory) -> float:
    """``parameter_memory_mb`` from the dict YOUR ``measure_memory`` returns; a clear stop without it."""
    if not isinstance(memory, dict) or "parameter_memory_mb" not in memory:
        raise SystemExit(f"Profiler.measure_memory returned {memory!r}; the course's returns a dict with "
                         "'parameter_memory_mb'")
    return float(memory["parameter_memory_mb"])


def mlp_weights(model) -> dict:
    """``fc<k>.weight`` / ``fc<k>.bias`` of the MLP's Linear layers, in order."""
    params = {}
    for k, linear in enumerate(model.linears(), start=1):
        params[f"fc{k}.weight"], params[f"fc{k}.bias"] = linear.weight, linear.bias
    return params


def profile_mlp(cfg: dict, seed: int) -> None:
    """YOUR Profiler's numbers for an MLP (the grader's sizes and weights), recorded as evidence."""
    from tinytorch.core.activations import ReLU
    from tinytorch.core.layers import Linear
    from tinytorch.core.tensor import Tensor
    profiler = course_name("profiling", "Profiler")()
    given = evidence.inputs()
    sizes = tuple(int(n) for n in given["mlp.sizes"]) if "mlp.sizes" in given else cfg["mlp"]
    model = LayerMLP(sizes, Linear, ReLU)
    evidence.start_from(mlp_weights(model), given, prefix="mlp.init.")
    print(f"Profiling an MLP {' -> '.join(map(str, sizes))} (ReLU between layers):")

    params = int(profiler.count_parameters(model))
    flops = int(profiler.count_flops(model, (1, sizes[0])))
    memory_mb = parameter_megabytes(profiler.measure_memory(model, (1, sizes[0])))
    print(f"  parameters: Profiler {params:,}; in*out + out per Linear {expected_parameters(sizes):,}")
    print(f"  FLOPs for one sample: Profiler {flops:,}; course convention {expected_flops(sizes):,}")
    print(f"  parameter memory: Profiler {memory_mb * 1024:.1f} KiB; 4 bytes per parameter "
          f"{4 * expected_parameters(sizes) / 1024:.1f} KiB")
    evidence.record("profiler.parameters", np.array([params]))
    evidence.record("profiler.flops", np.array([flops]))
    evidence.record("profiler.memory_mb", np.array([memory_mb]))

    iterations = cfg["latency_iterations"]
    rng = np.random.default_rng(seed)

    def stand_in():
        return {}, {"x": rng.standard_normal((LATENCY_BATCH, sizes[0])).astype(np.float32)}

    revealed = {}

    def forward_repeatedly(_, go) -> np.ndarray:
        revealed["x"] = x = Tensor(go["x"])
        for _ in range(LATENCY_PHASE_FORWARDS):
            out = model.forward(x)
        return to_numpy(out)

    model.forward(Tensor(stand_in()[1]["x"]))  # warm-up, untimed
    _, seconds = run_phase("latency", lambda _: None, forward_repeatedly, stand_in)
    latency = float(profiler.measure_latency(model, revealed["x"], warmup=2, iterations=iterations))
    evidence.record("profiler.latency_ms", np.array([latency]))
    own = seconds * 1000 / LATENCY_PHASE_FORWARDS
    print(f"  latency for a batch of {LATENCY_BATCH}: Profiler {latency:.3f} ms; {LATENCY_PHASE_FORWARDS} "
          f"forward passes took {own:.3f} ms each by this script's clock (the grade uses the runner's)")
    metrics.report("parameter_count", params)
    metrics.report("parameter_count_expected", expected_parameters(sizes))
    metrics.report("flops", flops)
    metrics.report("flops_expected", expected_flops(sizes))
    metrics.report("latency_ms", latency)


def kv_speedup(cfg: dict, seed: int) -> None:
    """Greedy decoding with and without YOUR KV cache, in phases the runner times."""
    from tinytorch.core.tensor import Tensor
    v, d, layers, heads = (cfg[k] for k in ("vocab_size", "embed_dim", "num_layers", "num_heads"))
    model = import_gpt()(vocab_size=v, embed_dim=d, num_layers=layers, num_heads=heads,
                         max_seq_len=cfg["max_seq_len"])
    given = evidence.inputs()
    evidence.export_weights(named_arrays(model), prefix="kv.weights.")
    if "kv.consistency.x" in given:  # so the host can check the exported weights are this model
        evidence.record("kv.consistency.out", to_numpy(model.forward(Tensor(given["kv.consistency.x"]))))
    print(f"Greedy decoding with GPT(vocab={v}, width={d}, layers={layers}, heads={heads}):")
    seconds = decode_phases(model, Tensor, course_name("memoization", "enable_kv_cache"),
                            course_name("memoization", "disable_kv_cache"), vocab=v,
                            prompt_len=cfg["prompt_len"], new_tokens=cfg["new_tokens"],
                            rounds=cfg["kv_repeats"], seed=seed + 1)
    naive, cached = min(seconds["recompute"]), min(seconds["cached"])
    print(f"  {cfg['new_tokens']} new tokens after a {cfg['prompt_len']}-token prompt, best of "
          f"{cfg['kv_repeats']} alternating runs by this script's clock (the grade uses the runner's): "
          f"{naive:.3f} s recomputing, {cached:.3f} s with the KV cache ({naive / max(cached, 1e-9):.1f}x)")
    metrics.report("kv_speedup_own_clock", naive / max(cached, 1e-9))


def main() -> int:
    args = parse_args(__doc__.splitlines()[0])
    seed_everything(args.seed)
    cfg = CONFIG["quick" if args.quick else "full"]
    profile_mlp(cfg, args.seed)
    kv_speedup(cfg, args.seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
