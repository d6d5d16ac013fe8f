"""tinytorch: the reference implementation of the TinyTorch course package (numpy, float32)."""

from tinytorch.core.activations import GELU, ReLU, Sigmoid, Softmax, Tanh, gelu, relu, sigmoid, softmax, tanh
from tinytorch.core.attention import MultiHeadAttention, scaled_dot_product_attention
from tinytorch.core.autograd import enable_autograd, is_grad_enabled, no_grad
from tinytorch.core.dataloader import (
    Compose,
    DataLoader,
    Dataset,
    RandomCrop,
    RandomHorizontalFlip,
    TensorDataset,
)
from tinytorch.core.embeddings import Embedding, PositionalEncoding
from tinytorch.core.layers import Dropout, Flatten, Layer, Linear, Sequential
from tinytorch.core.losses import BinaryCrossEntropyLoss, CrossEntropyLoss, MSELoss, log_softmax
from tinytorch.core.optimizers import SGD, Adam, AdamW, Optimizer
from tinytorch.core.random import manual_seed
from tinytorch.core.spatial import AvgPool2D, AvgPool2d, BatchNorm2d, Conv2D, Conv2d, MaxPool2D, MaxPool2d
from tinytorch.core.tensor import Tensor, cat, concatenate, matmul, stack
from tinytorch.core.tokenization import BPETokenizer, CharTokenizer
from tinytorch.core.training import CosineSchedule, Trainer, clip_grad_norm
from tinytorch.core.transformers import GPT, MLP, LayerNorm, TransformerBlock, create_causal_mask

enable_autograd()

__version__ = "0.1.0"

__all__ = [
    "Tensor", "matmul", "concatenate", "cat", "stack",
    "no_grad", "enable_autograd", "is_grad_enabled", "manual_seed",
    "Layer", "Linear", "Dropout", "Sequential", "Flatten",
    "ReLU", "Sigmoid", "Tanh", "GELU", "Softmax", "relu", "sigmoid", "tanh", "gelu", "softmax",
    "MSELoss", "CrossEntropyLoss", "BinaryCrossEntropyLoss", "log_softmax",
    "Optimizer", "SGD", "Adam", "AdamW",
    "Dataset", "TensorDataset", "DataLoader", "Compose", "RandomHorizontalFlip", "RandomCrop",
    "Trainer", "CosineSchedule", "clip_grad_norm",
    "Conv2d", "MaxPool2d", "AvgPool2d", "BatchNorm2d", "Conv2D", "MaxPool2D", "AvgPool2D",
    "Embedding", "PositionalEncoding", "MultiHeadAttention", "scaled_dot_product_attention",
    "LayerNorm", "MLP", "TransformerBlock", "GPT", "create_causal_mask",
    "CharTokenizer", "BPETokenizer",
]
