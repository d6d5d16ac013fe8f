"""Performance engineering on top of tinytorch.core.

Submodules (import them directly, as the course does):
profiling (Profiler), quantization (quantize_int8, QuantizedLinear, quantize_model),
compression (magnitude_prune, structured_prune, low_rank_approximate, distillation_loss),
acceleration (vectorized_matmul, tiled_matmul, fused_gelu, im2col), memoization (KVCache),
benchmarking (Benchmark, BenchmarkResult).
"""
