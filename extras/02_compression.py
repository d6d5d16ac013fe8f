"""Compression: make YOUR trained network smaller and check what it costs.

A small MLP learns MNIST digits with YOUR Linear, ReLU, CrossEntropyLoss and SGD; its layers sit
in `model.layers`, the model shape the course's compression tools walk. Three copies of it are
then compressed with YOUR Module 15 and 16 functions, and every number is counted here from the
arrays the models hold, never taken from a number your functions return:

1. `magnitude_prune(model, sparsity=0.5)`: `prune_sparsity` is the share of exact zeros in the
   weight matrices (biases left out);
2. `quantize_model(model)`: the 2025 course's returns a summary and leaves the layers alone;
   then each Linear layer is replaced by YOUR `QuantizedLinear(layer)` (what the 2026 course's
   does in place). `int8_size_ratio` counts what the quantized layers' `parameters()` hold: one
   byte per value of an array of integer codes in the int8 (or uint8) range, the item size for
   any other value, four bytes per float value not held at all. `int8_output_error` is how far
   the outputs move (relative to the float model's), `int8_accuracy_drop` what that costs;
3. `low_rank_approximate(W, rank_ratio=0.25)` on the first layer's weight matrix: the returned
   (U, S, V) give W_r = U @ diag(S) @ V, whose error `lowrank_error_ratio` compares with the best
   possible one of that rank (Eckart-Young, numpy's SVD): 1.0 means optimal. W_r then replaces
   the layer's weights.

Accuracies are measured on 5,000 held-out training images from the models' output arrays; the
float model's predictions on the official test set are also written for the harness to score.

Run it yourself: `python extras/02_compression.py` (add `--quick` for a short run).
"""

from __future__ import annotations

import time

import numpy as np
from _harness import evidence, metrics
from _harness.common import parse_args, seed_everything, to_numpy
from _harness.course import course_name, no_grad
from _harness.data import load_mnist
from _harness.mlp import LayerMLP
from _harness.sizes import size_ratio

CONFIG = {
    "full": dict(train_images=20000, epochs=5, hidden=(128, 64)),
    "quick": dict(train_images=4000, epochs=3, hidden=(64, 32)),
}
VAL_IMAGES, BATCH, LR = 5000, 64, 0.05
SPARSITY = 0.5
RANK_RATIO = 0.25  # of min(784, hidden): rank 32 (full) or 16 (quick), exact under int() or round()


def clone(model: LayerMLP, sizes, Linear, ReLU) -> LayerMLP:
    """A new MLP holding copies of `model`'s weights."""
    twin = LayerMLP(sizes, Linear, ReLU)
    for mine, theirs in zip(twin.parameters(), model.parameters(), strict=True):
        to_numpy(mine)[...] = to_numpy(theirs)
    return twin


def outputs(model, x: np.ndarray, Tensor) -> np.ndarray:
    """The model's output array for inputs `x` (float64)."""
    with no_grad():
        return to_numpy(model.forward(Tensor(x))).astype(np.float64)


def linear_parameters(model: LayerMLP) -> dict:
    """``layers.<i>.weight|bias`` of each Linear in ``model.layers`` (the evidence's names)."""
    return {f"layers.{i}.{kind}": getattr(layer, kind) for i, layer in enumerate(model.layers)
            if hasattr(layer, "weight") for kind in ("weight", "bias")}


def accuracy(scores: np.ndarray, y: np.ndarray) -> float:
    """Share of correct argmax predictions."""
    return float(np.mean(np.argmax(scores, axis=1) == y))


def weight_sparsity(model: LayerMLP) -> float:
    """Share of exact zeros among the entries of every weight matrix, counted in numpy."""
    weights = [to_numpy(layer.weight) for layer in model.linears()]
    return float(sum(np.sum(w == 0) for w in weights) / sum(w.size for w in weights))


def train(model: LayerMLP, x: np.ndarray, y: np.ndarray, epochs: int, seed: int, Tensor) -> None:
    """Minibatch SGD with momentum on YOUR cross-entropy loss."""
    from tinytorch.core.losses import CrossEntropyLoss
    from tinytorch.core.optimizers import SGD
    optimizer, loss_fn = SGD(model.parameters(), lr=LR, momentum=0.9), CrossEntropyLoss()
    rng = np.random.default_rng(seed)
    for epoch in range(epochs):
        order = rng.permutation(len(x))
        for i in range(0, len(order), BATCH):
            idx = order[i:i + BATCH]
            loss = loss_fn(model.forward(Tensor(x[idx])), Tensor(y[idx]))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        print(f"  epoch {epoch + 1}: loss {float(to_numpy(loss)):.3f}")


def quantized(model: LayerMLP, Linear) -> LayerMLP:
    """YOUR quantize_model applied to `model`; if it left the layers as they were, each Linear
    layer is replaced by YOUR QuantizedLinear."""
    before = list(model.layers)
    course_name("quantization", "quantize_model")(model)
    replaced = sum(now is not then for now, then in zip(model.layers, before, strict=True))
    if replaced:
        print(f"Your quantize_model replaced {replaced} Linear layers.")
        return model
    print("Your quantize_model left the layers as they were (the 2025 course's returns a summary); "
          "each Linear layer becomes QuantizedLinear(layer).")
    QuantizedLinear = course_name("quantization", "QuantizedLinear")
    model.layers = [QuantizedLinear(layer) if isinstance(layer, Linear) else layer for layer in model.layers]
    return model


def int8_size_ratio(model: LayerMLP, float_values: int) -> float:
    """Bytes the layers' parameters() need over 4 bytes per float value (_harness/sizes.py)."""
    arrays = [(a, a.dtype.itemsize) for layer in model.layers for a in map(to_numpy, layer.parameters())]
    return size_ratio(arrays, float_values)


def export_quantized(model: LayerMLP) -> None:
    """What each quantized layer's parameters() hold, with each array's item size: the host counts
    the bytes and rebuilds the model's outputs from them."""
    for j, layer in enumerate(model.layers):
        for i, array in enumerate(map(to_numpy, layer.parameters())):
            evidence.record(f"int8.params.l{j}.p{i}", array)
            evidence.record(f"int8.itemsize.l{j}.p{i}", np.array([array.dtype.itemsize]))


def low_rank_factors(weight: np.ndarray, rank: int):
    """YOUR low_rank_approximate(weight, rank_ratio) as float64 (U, S, V); a clear stop if misshapen."""
    factors = course_name("compression", "low_rank_approximate")(weight, rank_ratio=RANK_RATIO)
    u, s, v = (to_numpy(f).astype(np.float64) for f in factors)
    (m, n), k = weight.shape, rank
    if (u.shape, s.shape, v.shape) != ((m, k), (k,), (k, n)):
        raise SystemExit(f"low_rank_approximate(W of shape {(m, n)}, rank_ratio={RANK_RATIO}) returned "
                         f"U, S, V shaped {u.shape}, {s.shape}, {v.shape}; the course's are {(m, k)}, "
                         f"{(k,)}, {(k, n)} (k = max(1, int(rank_ratio * min(m, n))))")
    return u, s, v


def main() -> int:
    args = parse_args(__doc__.splitlines()[0])
    seed_everything(args.seed)
    cfg = CONFIG["quick" if args.quick else "full"]

    from tinytorch.core.activations import ReLU
    from tinytorch.core.layers import Linear
    from tinytorch.core.tensor import Tensor
    magnitude_prune = course_name("compression", "magnitude_prune")

    data = load_mnist()
    x_all = data.x_train.reshape(len(data.x_train), -1).astype(np.float32) / 255.0
    x_train, y_train = x_all[:cfg["train_images"]], data.y_train[:cfg["train_images"]]
    x_val, y_val = x_all[-VAL_IMAGES:], data.y_train[-VAL_IMAGES:]
    sizes = (784, *cfg["hidden"], 10)

    model = LayerMLP(sizes, Linear, ReLU)
    started = time.perf_counter()
    train(model, x_train, y_train, cfg["epochs"], args.seed, Tensor)
    base_scores = outputs(model, x_val, Tensor)
    base_acc = accuracy(base_scores, y_val)
    print(f"Float32 MLP {sizes}: held-out accuracy {base_acc:.2%} ({time.perf_counter() - started:.0f} s)")
    given = evidence.inputs()  # under the harness: the host recomputes every number it can from these
    evidence.export_weights(linear_parameters(model))
    evidence.record_consistency(given, lambda x: outputs(model, x, Tensor))
    if data.x_test is not None and data.y_test is not None:
        x_test = data.x_test.reshape(len(data.x_test), -1).astype(np.float32) / 255.0
        print(f"Float32 test accuracy: {accuracy(outputs(model, x_test, Tensor), data.y_test):.2%} "
              "(under the harness, the grader computes it from the exported weights)")

    pruned = clone(model, sizes, Linear, ReLU)
    magnitude_prune(pruned, sparsity=SPARSITY)
    sparsity = weight_sparsity(pruned)
    evidence.export_weights(linear_parameters(pruned), prefix="pruned.")
    prune_acc = accuracy(outputs(pruned, x_val, Tensor), y_val)
    print(f"Pruning to {SPARSITY:.0%}: {sparsity:.2%} of the weights are zero; accuracy {prune_acc:.2%}")

    float_values = sum(to_numpy(p).size for p in model.parameters())
    int8_model = quantized(clone(model, sizes, Linear, ReLU), Linear)
    size_ratio = int8_size_ratio(int8_model, float_values)
    int8_scores = outputs(int8_model, x_val, Tensor)
    if "int8.x" in given:
        evidence.record("int8.out", outputs(int8_model, given["int8.x"], Tensor))
    export_quantized(int8_model)
    int8_acc = accuracy(int8_scores, y_val)
    int8_error = np.linalg.norm(int8_scores - base_scores) / np.linalg.norm(base_scores)
    print(f"Int8 quantization: {size_ratio:.3f} of the float32 size; outputs off by {int8_error:.2%} "
          f"(relative); accuracy {int8_acc:.2%}")

    low_rank = clone(model, sizes, Linear, ReLU)
    first = low_rank.linears()[0]
    w = to_numpy(first.weight).astype(np.float64)
    rank = max(1, int(RANK_RATIO * min(w.shape)))
    u, s, v = low_rank_factors(to_numpy(first.weight), rank)
    for name, factor in zip("usv", (u, s, v), strict=True):
        evidence.record(f"lowrank.{name}", factor)
    w_r = u @ np.diag(s) @ v
    error, norm = np.linalg.norm(w - w_r), np.linalg.norm(w)
    best = np.sqrt(np.sum(np.linalg.svd(w, compute_uv=False)[rank:] ** 2))
    to_numpy(first.weight)[...] = w_r
    lr_acc = accuracy(outputs(low_rank, x_val, Tensor), y_val)
    kept = rank * (w.shape[0] + w.shape[1] + 1) / w.size
    print(f"Rank-{rank} first layer: U, S, V hold {kept:.2f} of its weights; relative error "
          f"{error / norm:.4f} (best possible {best / norm:.4f}); accuracy {lr_acc:.2%}")

    metrics.report("float_accuracy", base_acc)
    metrics.report("prune_sparsity", sparsity)
    metrics.report("prune_accuracy_drop", 100 * (base_acc - prune_acc))
    metrics.report("int8_size_ratio", size_ratio)
    metrics.report("int8_output_error", float(int8_error))
    metrics.report("int8_accuracy_drop", 100 * (base_acc - int8_acc))
    metrics.report("lowrank_rank", rank)
    metrics.report("lowrank_error_ratio", float(error / best))
    metrics.report("lowrank_weight_ratio", kept)
    metrics.report("lowrank_accuracy_drop", 100 * (base_acc - lr_acc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
