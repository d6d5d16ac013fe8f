"""Performance engineering on top of tinytorch.core (import the submodules directly, as the course does):
profiling (Profiler), quantization (quantize_int8, QuantizedLinear, quantize_model), compression
(magnitude_prune, structured_prune, low_rank_approximate, KnowledgeDistillation), memoization
(KVCache, enable_kv_cache), acceleration (vectorized_matmul, tiled_matmul, fused_gelu).
"""
