"""Model compression, as the course defines it: pruning (magnitude, structured), low-rank
factorisation, knowledge distillation, and a Compressor pipeline.

Pruning and sparsity work on ``model.layers`` (as the course's effective definitions do) and
change parameters in place; every function returns the model.
"""

from __future__ import annotations

import numpy as np

from tinytorch.core.activations import ReLU  # noqa: F401 (a name the course's module imports)
from tinytorch.core.layers import Linear
from tinytorch.core.tensor import Tensor

BYTES_PER_FLOAT32 = 4
MB_TO_BYTES = 1024 * 1024


class Compressor:
    """The course's compression operations as static methods."""

    @staticmethod
    def measure_sparsity(model) -> float:
        """Fraction (0..1) of zeros among all parameters (biases included) of ``model.layers``."""
        params = [p for layer in model.layers for p in layer.parameters()]
        total = sum(p.size for p in params)
        zeros = sum(int(np.sum(p.data == 0)) for p in params)
        return zeros / total if total > 0 else 0.0

    @staticmethod
    def magnitude_prune(model, sparsity=0.5):
        """Zero the entries of each parameter below its own ``sparsity`` percentile of |value|."""
        for layer in model.layers:
            for param in layer.parameters():
                magnitudes = np.abs(param.data)
                param.data[magnitudes < np.percentile(magnitudes, sparsity * 100)] = 0
        return model

    @staticmethod
    def structured_prune(model, prune_ratio=0.5):
        """Zero the output neurons (weight columns) of each Linear whose L2 norm is below the
        ``prune_ratio`` percentile of the layer's column norms (biases are kept)."""
        for layer in model.layers:
            if isinstance(layer, Linear) and layer.weight.ndim == 2:
                norms = np.linalg.norm(layer.weight.data, axis=0)
                layer.weight.data[:, norms < np.percentile(norms, prune_ratio * 100)] = 0
        return model

    @staticmethod
    def compress_model(model, compression_config):
        """Apply ``magnitude_sparsity`` and/or ``structured_prune_ratio`` from the config.

        Returns ``(model, stats)`` with original_sparsity, final_sparsity and compression_ratio
        = 1 / (1 - final_sparsity).
        """
        stats = {"original_sparsity": Compressor.measure_sparsity(model)}
        if "magnitude_sparsity" in compression_config:
            model = Compressor.magnitude_prune(model, compression_config["magnitude_sparsity"])
        if "structured_prune_ratio" in compression_config:
            model = Compressor.structured_prune(model, compression_config["structured_prune_ratio"])
        final = Compressor.measure_sparsity(model)
        stats["final_sparsity"] = final
        stats["compression_ratio"] = 1.0 / (1.0 - final) if final < 1.0 else float("inf")
        return model, stats


def measure_sparsity(model) -> float:
    return Compressor.measure_sparsity(model)


def magnitude_prune(model, sparsity=0.5):
    return Compressor.magnitude_prune(model, sparsity)


def structured_prune(model, prune_ratio=0.5):
    return Compressor.structured_prune(model, prune_ratio)


def compress_model(model, compression_config):
    return Compressor.compress_model(model, compression_config)


def low_rank_approximate(weight_matrix, rank_ratio=0.5):
    """Truncated SVD ``(U_k, S_k, V_k)`` with ``k = max(1, int(rank_ratio * min(m, n)))``.

    ``U_k @ np.diag(S_k) @ V_k`` is the best rank-k approximation of the (m, n) matrix.
    """
    U, S, V = np.linalg.svd(np.asarray(weight_matrix), full_matrices=False)
    rank = max(1, int(rank_ratio * min(U.shape[0], V.shape[1])))
    return U[:, :rank], S[:rank], V[:rank, :]


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - np.max(logits, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


class KnowledgeDistillation:
    """Teacher-student loss: ``alpha * KL(student_T || teacher_T) + (1 - alpha) * CE(student, labels)``.

    Computed in numpy (a float, no gradient), as the course; soft targets use ``temperature``.
    Float class ids are accepted (cast to integers).
    """

    def __init__(self, teacher_model, student_model, temperature=3.0, alpha=0.7):
        self.teacher_model = teacher_model
        self.student_model = student_model
        self.temperature = temperature
        self.alpha = alpha

    def distillation_loss(self, student_logits, teacher_logits, true_labels):
        student, teacher = np.asarray(student_logits.data), np.asarray(teacher_logits.data)
        labels = np.asarray(true_labels.data if isinstance(true_labels, Tensor) else true_labels)
        student_soft = _softmax(student / self.temperature)
        teacher_soft = _softmax(teacher / self.temperature)
        soft_loss = np.sum(student_soft * np.log(student_soft / (teacher_soft + 1e-8) + 1e-8))
        probs = _softmax(student)
        if labels.ndim == 1:
            picked = probs[np.arange(len(labels)), labels.astype(np.int64)]
            hard_loss = -np.mean(np.log(picked + 1e-8))
        else:
            hard_loss = -np.mean(np.sum(labels * np.log(probs + 1e-8), axis=1))
        return self.alpha * soft_loss + (1 - self.alpha) * hard_loss
