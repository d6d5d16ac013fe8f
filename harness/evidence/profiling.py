"""Evidence kit of baseline_profile: the Profiler's numbers against the grader's own model.

The host draws the MLP's layer sizes and weights for the run; the script records what the
student's Profiler says (parameters, FLOPs, parameter memory, latency) and answers two kinds of
host-timed phase: repeated forward passes on a batch revealed when the runner's clock starts (the
latency the Profiler must agree with), and greedy decoding with and without the KV cache.
"""

from __future__ import annotations

import numpy as np

from . import EvidenceProblem
from .kit import Arrays, HostValue, Kit, Measured, Prepared, Timings, weights_or_problem
from .language import rebuilt_gpt
from .numpy_ref import linear, relative_error
from .shipped import helper
from .timed import answered, decode_speedup, seal_decoding

COUNT_METRICS = ("parameter_count_error", "flops_rel_error", "parameter_memory_rel_error")
TIMED_METRICS = ("latency_ratio", "kv_speedup")
# Drawn per run around the extra's stand-in sizes, so no constant answers for every run.
SIZE_RANGES = {"full": ((600, 900), (160, 320), (64, 160), (8, 16)),
               "quick": ((400, 800), (96, 160), (32, 96), (8, 16))}
OUTPUT_TOLERANCE = 1e-3


def prepare(rng: np.random.Generator, profile: str) -> Prepared:
    """Layer sizes and weights of the MLP, the latency batch, the decoding phases, a GPT consistency batch."""
    cfg = helper("baseline").CONFIG[profile]
    sizes = np.array([rng.integers(low, high) for low, high in SIZE_RANGES[profile]], dtype=np.int64)
    public = {"mlp.sizes": sizes}
    for k, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), start=1):
        weight = rng.standard_normal((n_in, n_out)) / np.sqrt(n_in)
        public[f"mlp.init.fc{k}.weight"] = weight.astype(np.float32)
        public[f"mlp.init.fc{k}.bias"] = (0.1 * rng.standard_normal(n_out)).astype(np.float32)
    public["kv.consistency.x"] = rng.integers(0, cfg["vocab_size"], (1, 24)).astype(np.int64)
    batch = rng.standard_normal((helper("baseline").LATENCY_BATCH, int(sizes[0]))).astype(np.float32)
    decoding = seal_decoding(rng, vocab=cfg["vocab_size"], prompt_len=cfg["prompt_len"],
                             rounds=cfg["kv_repeats"])
    sealed = {"latency": ({}, {"x": batch}), **decoding}
    return Prepared(public, sealed=sealed)


def _reported(evidence: Arrays, name: str, what: str) -> float:
    value = evidence.get(name)
    if value is None or value.size != 1:
        raise EvidenceProblem(f"the run recorded no {what} (`{name}`): see its output for why")
    return float(value.reshape(-1)[0])


def score(evidence: Arrays, prepared: Prepared, profile: str) -> dict[str, HostValue]:
    """The Profiler's counts against the course's conventions for the grader's sizes, graded once
    the MLP it profiled has run (its outputs on the revealed batch are the grader's weights')."""
    ran = _forward_problem(evidence, prepared)
    if ran is not None:
        return dict.fromkeys(COUNT_METRICS, EvidenceProblem(f"{ran}; the Profiler's numbers are graded for "
                                                            "a model that ran"))
    baseline = helper("baseline")
    sizes = [int(n) for n in prepared.public["mlp.sizes"]]
    parameters, flops = baseline.expected_parameters(sizes), baseline.expected_flops(sizes)
    megabytes = 4 * parameters / 2**20
    out: dict[str, HostValue] = {}
    for metric, name, what, compute in (
            ("parameter_count_error", "profiler.parameters", "parameter count",
             lambda v: Measured(abs(v - parameters),
                                f"Profiler {v:,.0f}, in*out + out per Linear {parameters:,}")),
            ("flops_rel_error", "profiler.flops", "FLOP count",
             lambda v: Measured(abs(v - flops) / flops, f"Profiler {v:,.0f}, course convention {flops:,}")),
            ("parameter_memory_rel_error", "profiler.memory_mb", "parameter memory",
             lambda v: Measured(abs(v - megabytes) / megabytes,
                                f"Profiler {v:.4f} MB, 4 bytes x {parameters:,} = {megabytes:.4f} MB"))):
        try:
            out[metric] = compute(_reported(evidence, name, what))
        except EvidenceProblem as problem:
            out[metric] = problem
    return out


def _mlp_forward(public: Arrays, x: np.ndarray) -> np.ndarray:
    layers = len(public["mlp.sizes"]) - 1
    h = x.astype(np.float64)
    for k in range(1, layers + 1):
        h = linear(h, public[f"mlp.init.fc{k}.weight"], public[f"mlp.init.fc{k}.bias"])
        if k < layers:
            h = np.maximum(h, 0)
    return h


def _forward_problem(evidence: Arrays, prepared: Prepared) -> str | None:
    """Why the latency phase's answer is not the MLP's forward pass of the revealed batch with the
    grader's weights, or None when it is."""
    answer = evidence.get("phase.latency")
    if answer is None:
        return "the MLP's outputs on the latency batch were not recorded (`phase.latency`)"
    expected = _mlp_forward(prepared.public, prepared.sealed["latency"][1]["x"])
    if answer.shape != expected.shape or not relative_error(answer, expected) <= OUTPUT_TOLERANCE:
        return "phase `latency`: the outputs are not the MLP's forward pass of the revealed batch with the " \
               "grader's weights"
    return None


def _latency_ratio(evidence: Arrays, prepared: Prepared, profile: str, timings: Timings) -> HostValue:
    """The Profiler's latency / the runner's time per forward pass on the revealed batch."""
    _, seconds = answered("latency", evidence, timings)
    problem = _forward_problem(evidence, prepared)
    if problem is not None:
        raise EvidenceProblem(problem)
    per_forward_ms = seconds * 1000 / helper("baseline").LATENCY_PHASE_FORWARDS
    profiler_ms = _reported(evidence, "profiler.latency_ms", "Profiler latency")
    note = f"Profiler {profiler_ms:.3f} ms, the runner's clock {per_forward_ms:.3f} ms per forward pass"
    return Measured(profiler_ms / max(per_forward_ms, 1e-9), note)


def timed(evidence: Arrays, prepared: Prepared, profile: str, timings: Timings) -> dict[str, HostValue]:
    cfg = helper("baseline").CONFIG[profile]
    out = weights_or_problem(lambda: {"latency_ratio": _latency_ratio(evidence, prepared, profile, timings)},
                             ("latency_ratio",))

    def speedup() -> dict[str, HostValue]:
        gpt = rebuilt_gpt(evidence, cfg["num_heads"], prepared, prefix="kv.weights.",
                       tokens_name="kv.consistency.x", out_name="kv.consistency.out")
        sealed = {name: phase for name, phase in prepared.sealed.items() if name.startswith("decode.")}
        value, note = decode_speedup(evidence, sealed, timings, cfg["new_tokens"], gpt.logits)
        return {"kv_speedup": Measured(value, note)}

    out.update(weights_or_problem(speedup, ("kv_speedup",)))
    return out


KITS = {"baseline_profile": Kit("baseline_profile", COUNT_METRICS + TIMED_METRICS, prepare, score, timed)}
