"""Older spelling of tinytorch.core.transformers, kept so students' imports still work."""

from tinytorch.core.transformers import (  # noqa: F401
    GPT,
    MLP,
    LayerNorm,
    TransformerBlock,
    causal_mask_array,
    create_causal_mask,
)

__all__ = ["LayerNorm", "MLP", "TransformerBlock", "GPT", "create_causal_mask", "causal_mask_array"]
