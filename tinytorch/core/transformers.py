"""The 2026 course's spelling of ``tinytorch.core.transformer`` (module 13), kept as an alias."""

from tinytorch.core.transformer import (  # noqa: F401
    BYTES_PER_FLOAT32,
    GPT,
    MB_TO_BYTES,
    MLP,
    LayerNorm,
    TransformerBlock,
    create_causal_mask,
)

__all__ = ["LayerNorm", "MLP", "TransformerBlock", "GPT", "create_causal_mask"]
