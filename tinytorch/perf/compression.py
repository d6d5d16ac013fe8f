"""Model compression: magnitude and structured pruning with masks, low-rank layers, distillation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinytorch.core.layers import Layer, Linear
from tinytorch.core.losses import CrossEntropyLoss, log_softmax
from tinytorch.core.tensor import Tensor
from tinytorch.perf.profiling import is_layer, iter_layers, unique_parameters

SCOPES = ("global", "layer")


@dataclass
class PruneMasks:
    """Boolean keep-masks for pruned Tensors. Re-apply after each optimizer step to stay pruned."""

    pairs: list[tuple[Tensor, np.ndarray]]

    def apply(self) -> None:
        """Zero every pruned entry again (optimizers may have moved them)."""
        for param, mask in self.pairs:
            param.data[~mask] = 0.0

    def attach(self, optimizer):
        """Make `optimizer.step()` re-apply the masks after each update; returns the optimizer."""
        step = optimizer.step

        def step_then_mask(*args, **kwargs):
            result = step(*args, **kwargs)
            self.apply()
            return result

        optimizer.step = step_then_mask
        return optimizer

    @property
    def sparsity(self) -> float:
        """Fraction (0..1) of masked-out entries among the Tensors these masks cover."""
        total = sum(mask.size for _, mask in self.pairs)
        pruned = sum(mask.size - np.count_nonzero(mask) for _, mask in self.pairs)
        return pruned / total if total else 0.0


def _prunable(target) -> list[Tensor]:
    """Weights to prune: for a model, every parameter with 2+ dims; for a list, the Tensors given."""
    if is_layer(target):
        weights = [p for p in unique_parameters(target) if p.data.ndim >= 2]
        if not weights:
            raise ValueError(f"nothing to prune: {type(target).__name__} has no parameter with 2+ dims")
        return weights
    params = list(target)
    if not params or not all(isinstance(p, Tensor) for p in params):
        raise TypeError("expected a model/layer or a non-empty list of Tensors to prune")
    return params


def _check_fraction(where: str, name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{where}: {name} must be in [0, 1], got {value}")


def _keep_mask(magnitudes: np.ndarray, n_prune: int) -> np.ndarray:
    """Flat mask that drops exactly the `n_prune` smallest magnitudes (ties broken by position)."""
    keep = np.ones(magnitudes.size, dtype=bool)
    if n_prune > 0:
        keep[np.argpartition(magnitudes, n_prune - 1)[:n_prune]] = False
    return keep


def magnitude_prune(target, sparsity: float = 0.9, scope: str = "global") -> PruneMasks:
    """Zero the smallest-|w| weights so that exactly round(sparsity * n) of them are zero.

    `scope="global"` ranks all prunable weights together (layers end up with different
    sparsities); `scope="layer"` prunes each Tensor to `sparsity` on its own. Biases and other
    1-D parameters are never pruned when a model is given.
    """
    _check_fraction("magnitude_prune", "sparsity", sparsity)
    if scope not in SCOPES:
        raise ValueError(f"magnitude_prune: scope must be one of {SCOPES}, got {scope!r}")
    params = _prunable(target)
    if scope == "layer":
        masks = [
            _keep_mask(np.abs(p.data).ravel(), round(sparsity * p.data.size)).reshape(p.data.shape)
            for p in params
        ]
    else:
        flat = np.concatenate([np.abs(p.data).ravel() for p in params])
        keep = _keep_mask(flat, round(sparsity * flat.size))
        bounds = np.cumsum([p.data.size for p in params])[:-1]
        masks = [m.reshape(p.data.shape) for m, p in zip(np.split(keep, bounds), params, strict=True)]
    pruned = PruneMasks(list(zip(params, masks, strict=True)))
    pruned.apply()
    return pruned


def _structured_layers(target) -> list:
    if is_layer(target):
        layers = [
            layer for layer in iter_layers(target)
            if {c.__name__ for c in type(layer).__mro__} & {"Linear", "Conv2d", "Conv2D"}
        ]
        return layers[:-1]  # the output layer keeps all its units: they are the model's outputs
    return list(target)


def structured_prune(target, prune_ratio: float = 0.5) -> PruneMasks:
    """Zero whole output units with the smallest L2 norm in each Linear/Conv2d.

    A Linear weight (in, out) loses whole columns (output neurons), a Conv2d weight
    (out, in, kh, kw) whole filters; the matching bias entries are zeroed too. Each layer loses
    round(prune_ratio * units). Given a model, every Linear/Conv2d except the last one found (the output
    layer) is pruned; given a list of layers, all of them are.
    """
    _check_fraction("structured_prune", "prune_ratio", prune_ratio)
    pairs = []
    for layer in _structured_layers(target):
        weight = layer.weight.data
        unit_axis = 1 if isinstance(layer, Linear) else 0
        other_axes = tuple(i for i in range(weight.ndim) if i != unit_axis)
        norms = np.sqrt((weight.astype(np.float64) ** 2).sum(axis=other_axes))
        keep_units = _keep_mask(norms, round(prune_ratio * norms.size))
        shape = [1] * weight.ndim
        shape[unit_axis] = norms.size
        pairs.append((layer.weight, np.broadcast_to(keep_units.reshape(shape), weight.shape).copy()))
        if getattr(layer, "bias", None) is not None:
            pairs.append((layer.bias, keep_units.reshape(layer.bias.data.shape).copy()))
    pruned = PruneMasks(pairs)
    pruned.apply()
    return pruned


def measure_sparsity(target) -> float:
    """Percentage (0..100, as in the course) of zero entries over all parameters of a model or list."""
    params = unique_parameters(target)
    total = sum(p.data.size for p in params)
    if total == 0:
        raise ValueError("measure_sparsity: the model has no parameters")
    return 100.0 * sum(p.data.size - np.count_nonzero(p.data) for p in params) / total


class LowRankLinear(Layer):
    """y = (x @ A) @ B + b with A (in, rank), B (rank, out): rank*(in+out) weights instead of in*out."""

    def __init__(self, first: np.ndarray, second: np.ndarray, bias: np.ndarray | None):
        super().__init__()
        self.first = Tensor(first.astype(np.float32), requires_grad=True)
        self.second = Tensor(second.astype(np.float32), requires_grad=True)
        self.bias = None if bias is None else Tensor(bias.astype(np.float32), requires_grad=True)
        self.rank = first.shape[1]

    def parameters(self) -> list[Tensor]:
        return [self.first, self.second] + ([] if self.bias is None else [self.bias])

    def forward(self, x: Tensor) -> Tensor:
        y = (x @ self.first) @ self.second
        return y if self.bias is None else y + self.bias


def low_rank_approximate(weight_matrix, rank_ratio: float = 0.5):
    """The course's API: truncated SVD factors ``(U, S, V)`` of a weight matrix, keeping
    k = max(1, int(rank_ratio * min(m, n))) singular values; ``U @ diag(S) @ V`` is the best
    rank-k approximation (Eckart-Young)."""
    weight = np.asarray(getattr(weight_matrix, "data", weight_matrix), dtype=np.float64)
    if weight.ndim != 2:
        raise ValueError(f"low_rank_approximate: expected a 2-D weight matrix, got shape {weight.shape}")
    u, s, vt = np.linalg.svd(weight, full_matrices=False)
    k = max(1, int(rank_ratio * min(weight.shape)))
    return u[:, :k], s[:k], vt[:k]


def low_rank_linear(linear: Linear, rank: int) -> LowRankLinear:
    """Addition beyond the course: a trainable layer from the best rank-`rank` factorisation.

    W = U S V^T is split as A = U_r sqrt(S_r), B = sqrt(S_r) V_r^T; at full rank the layer is
    reproduced up to float32 rounding.
    """
    weight = linear.weight.data
    max_rank = min(weight.shape)
    if not isinstance(rank, (int, np.integer)) or not 1 <= rank <= max_rank:
        raise ValueError(f"low_rank_linear: rank must be an int in [1, {max_rank}] for weight "
                         f"{weight.shape}, got {rank!r}")
    u, s, vt = np.linalg.svd(weight.astype(np.float64), full_matrices=False)
    root = np.sqrt(s[:rank])
    bias = None if linear.bias is None else linear.bias.data
    return LowRankLinear(u[:, :rank] * root, root[:, None] * vt[:rank], bias)


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def distillation_loss(student_logits: Tensor, teacher_logits, targets, temperature: float = 4.0,
                      alpha: float = 0.5) -> Tensor:
    """Hinton et al. knowledge distillation loss, differentiable in `student_logits`.

    alpha * T^2 * KL(softmax(teacher/T) || softmax(student/T)) + (1 - alpha) * CE(student, targets),
    KL averaged over the batch. The teacher is a constant (no gradient). T^2 keeps the soft term's
    gradient scale independent of T.
    """
    if temperature <= 0:
        raise ValueError(f"distillation_loss: temperature must be > 0, got {temperature}")
    _check_fraction("distillation_loss", "alpha", alpha)
    teacher = teacher_logits.data if isinstance(teacher_logits, Tensor) else np.asarray(teacher_logits)
    if teacher.shape != tuple(student_logits.shape):
        raise ValueError(f"distillation_loss: teacher logits {teacher.shape} and student logits "
                         f"{tuple(student_logits.shape)} must have the same shape")
    p_teacher = _softmax(teacher.astype(np.float64) / temperature)
    teacher_entropy_term = float((p_teacher * np.log(np.maximum(p_teacher, 1e-30))).sum(axis=-1).mean())
    log_p_student = log_softmax(student_logits * (1.0 / temperature))
    cross = (Tensor(p_teacher.astype(np.float32)) * log_p_student).sum(axis=-1).mean()
    kl = cross * -1.0 + teacher_entropy_term
    hard = CrossEntropyLoss()(student_logits, targets)
    return kl * (alpha * temperature**2) + hard * (1.0 - alpha)
