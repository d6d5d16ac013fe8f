"""tinytorch: the reference implementation of the TinyTorch course package (numpy, float32).

Top-level names are the course's (its hand-written ``tinytorch/__init__.py``, imported from the
modules' ``default_exp`` paths), plus a few additions: ``no_grad``, ``Sequential``, ``Flatten``,
``BatchNorm2d`` and ``manual_seed``.
"""

import random as _random

import numpy as _np

from tinytorch.core.activations import GELU, ReLU, Sigmoid, Softmax, Tanh
from tinytorch.core.attention import MultiHeadAttention, scaled_dot_product_attention
from tinytorch.core.autograd import enable_autograd, no_grad
from tinytorch.core.dataloader import (
    Compose,
    DataLoader,
    Dataset,
    RandomCrop,
    RandomHorizontalFlip,
    TensorDataset,
)
from tinytorch.core.embeddings import Embedding, EmbeddingLayer, PositionalEncoding
from tinytorch.core.layers import Dropout, Flatten, Layer, Linear, Sequential
from tinytorch.core.losses import BinaryCrossEntropyLoss, CrossEntropyLoss, MSELoss
from tinytorch.core.optimizers import SGD, Adam, AdamW
from tinytorch.core.spatial import AvgPool2d, BatchNorm2d, Conv2d, MaxPool2d
from tinytorch.core.tensor import Tensor
from tinytorch.core.tokenization import BPETokenizer, CharTokenizer, Tokenizer
from tinytorch.core.training import CosineSchedule, Trainer, clip_grad_norm
from tinytorch.core.transformer import GPT, MLP, LayerNorm, TransformerBlock, create_causal_mask

__version__ = "0.1.0"


def manual_seed(seed: int) -> None:
    """Seed every random source tinytorch uses: numpy's global generator and Python's ``random``."""
    _np.random.seed(seed)
    _random.seed(seed)


enable_autograd()

__all__ = [
    "__version__",
    "Tensor",
    "Sigmoid", "ReLU", "Tanh", "GELU", "Softmax",
    "Layer", "Linear", "Dropout",
    "MSELoss", "CrossEntropyLoss", "BinaryCrossEntropyLoss",
    "SGD", "Adam", "AdamW",
    "Trainer", "CosineSchedule", "clip_grad_norm",
    "Dataset", "TensorDataset", "DataLoader", "RandomHorizontalFlip", "RandomCrop", "Compose",
    "Conv2d", "MaxPool2d", "AvgPool2d",
    "Tokenizer", "CharTokenizer", "BPETokenizer",
    "Embedding", "PositionalEncoding", "EmbeddingLayer",
    "MultiHeadAttention", "scaled_dot_product_attention",
    "LayerNorm", "MLP", "TransformerBlock", "GPT", "create_causal_mask",
    "enable_autograd", "no_grad", "Sequential", "Flatten", "BatchNorm2d", "manual_seed",
]
