"""The baseline_profile extra's sizes and the course's counting conventions (script and host share them).

Parameters: in*out + out per Linear layer. FLOPs for one sample: 2*in*out per Linear (a
multiply-accumulate counts 2) plus one per element an activation reads. Memory: 4 bytes per
float32 parameter.
"""

from __future__ import annotations

# The KV-cache timing decodes after a long prompt: recomputing costs O(context) per new token,
# the cache O(1) plus attention over the context, so the cache's advantage is clear even on a
# small model, well above Python's fixed per-call cost. The prompt is fed to the cache before the
# clock starts (the recomputing side has no such step), so both sides time the same new tokens.
# ``mlp`` gives the stand-in sizes of a direct run; under the harness the host draws them.
CONFIG = {
    "full": dict(mlp=(784, 256, 128, 10), latency_iterations=30, vocab_size=64, embed_dim=128,
                 num_layers=4, num_heads=4, max_seq_len=256, prompt_len=160, new_tokens=64, kv_repeats=3),
    "quick": dict(mlp=(784, 128, 64, 10), latency_iterations=20, vocab_size=64, embed_dim=64,
                  num_layers=2, num_heads=4, max_seq_len=256, prompt_len=160, new_tokens=32, kv_repeats=5),
}
LATENCY_BATCH = 32
# forward passes in the runner-timed latency phase: enough that its clock's own latency (~1 ms to
# see a line of output) is a small part of the phase
LATENCY_PHASE_FORWARDS = 200


def expected_parameters(sizes) -> int:
    """Weights and biases of the Linear layers."""
    return sum(n_in * n_out + n_out for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True))


def expected_flops(sizes) -> int:
    """The course's count for one sample: 2*in*out per Linear, one per activation input element."""
    return sum(2 * n_in * n_out for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True)) + sum(sizes[1:-1])
