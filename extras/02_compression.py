"""Compression: make YOUR trained network smaller and check what it costs.

A small MLP learns MNIST digits with YOUR layers and optimizer. Then three copies of it are
compressed with YOUR tinytorch.perf.compression and tinytorch.perf.quantization:

1. magnitude pruning to 50 % sparsity: `prune_sparsity` is counted here, from the weights
   themselves (zeros / entries of every weight matrix), not taken from your function;
2. int8 quantization: `int8_size_ratio` is the storage of the quantized model over the float32
   model, counted here from the arrays the models hold (a float copy kept beside the int8 values,
   same shape, counts as a cache and is left out); `int8_accuracy_drop` in percentage points;
3. a rank-32 approximation of the first layer: `lowrank_error_ratio` compares its error with the
   best possible one (Eckart-Young, computed here with numpy's SVD): 1.0 means optimal.

Accuracies are measured on 5,000 held-out training images; the float model's predictions on the
official test set are also written for the harness to score on its side.

Run it yourself: `python extras/02_compression.py` (add `--quick` for a short run).
"""

from __future__ import annotations

import time

import numpy as np
from _harness import metrics
from _harness.common import parse_args, seed_everything, to_numpy
from _harness.course import course_name, no_grad
from _harness.data import load_mnist

CONFIG = {
    "full": dict(train_images=20000, epochs=5, hidden=(128, 64)),
    "quick": dict(train_images=4000, epochs=3, hidden=(64, 32)),
}
VAL_IMAGES, BATCH, LR = 5000, 64, 0.05
SPARSITY, RANK = 0.5, 32


class MLP:
    """784 -> hidden -> 10 with ReLU, layers kept in `self.layers` (the shape compression tools walk)."""

    def __init__(self, sizes, Linear, ReLU):
        self.layers = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            self.layers.append(Linear(a, b))
            if i < len(sizes) - 2:
                self.layers.append(ReLU())

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    __call__ = forward

    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]


def clone(model: MLP, sizes, Linear, ReLU) -> MLP:
    """A new MLP holding copies of `model`'s weights."""
    twin = MLP(sizes, Linear, ReLU)
    for mine, theirs in zip(twin.parameters(), model.parameters(), strict=True):
        to_numpy(mine)[...] = to_numpy(theirs)
    return twin


def accuracy(model, x: np.ndarray, y: np.ndarray, Tensor, no_grad) -> float:
    with no_grad():
        return float(np.mean(np.argmax(to_numpy(model(Tensor(x))), axis=1) == y))


def weight_sparsity(model) -> float:
    """Share of exact zeros among all weight-matrix entries (biases excluded), counted in numpy."""
    weights = [to_numpy(p) for p in model.parameters() if to_numpy(p).ndim >= 2]
    return float(sum(np.sum(w == 0) for w in weights) / sum(w.size for w in weights))


def _arrays(obj, owner: int, seen: set, found: list, depth: int = 0) -> None:
    """Collect (owning layer id, ndarray) for every array reachable from `obj`."""
    if depth > 10 or id(obj) in seen or obj is None or isinstance(obj, (str, bytes, int, float)):
        return
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        found.append((owner, obj))
    elif isinstance(obj, (list, tuple)):
        for item in obj:
            _arrays(item, owner, seen, found, depth + 1)
    elif isinstance(obj, dict):
        for item in obj.values():
            _arrays(item, owner, seen, found, depth + 1)
    elif hasattr(obj, "requires_grad") and isinstance(getattr(obj, "data", None), np.ndarray):
        _arrays(obj.data, owner, seen, found, depth + 1)  # a Tensor: its values only, not its grad
    elif hasattr(obj, "__dict__") or hasattr(obj, "__slots__"):
        owner = id(obj) if callable(getattr(obj, "forward", None)) else owner
        names = list(getattr(obj, "__dict__", {})) + list(getattr(obj, "__slots__", ()))
        for name in names:
            _arrays(getattr(obj, name, None), owner, seen, found, depth + 1)


def storage_bytes(model) -> int:
    """Bytes of every array a model holds; float arrays shadowing an int8 array of the same layer
    and shape are caches of dequantized values and are not counted."""
    found: list = []
    _arrays(model, id(model), set(), found)
    int8_shapes = {(owner, a.shape) for owner, a in found if a.dtype == np.int8}
    return int(sum(a.nbytes for owner, a in found
                   if not (a.dtype.kind == "f" and (owner, a.shape) in int8_shapes)))


def effective_weight(layer, n_in: int, Tensor, no_grad) -> np.ndarray:
    """The (in, out) matrix a linear map applies, read off its outputs: f(I) - f(0)."""
    with no_grad():
        return to_numpy(layer(Tensor(np.eye(n_in, dtype=np.float32)))) - to_numpy(
            layer(Tensor(np.zeros((1, n_in), dtype=np.float32))))


def main() -> int:
    args = parse_args(__doc__.splitlines()[0])
    seed_everything(args.seed)
    cfg = CONFIG["quick" if args.quick else "full"]

    from tinytorch.core.activations import ReLU
    from tinytorch.core.layers import Linear
    from tinytorch.core.losses import CrossEntropyLoss
    from tinytorch.core.optimizers import SGD
    from tinytorch.core.tensor import Tensor
    low_rank_approximate = course_name("compression", "low_rank_approximate")
    magnitude_prune = course_name("compression", "magnitude_prune")
    quantize_model = course_name("quantization", "quantize_model")

    data = load_mnist()
    x_all = data.x_train.reshape(len(data.x_train), -1).astype(np.float32) / 255.0
    x_train, y_train = x_all[:cfg["train_images"]], data.y_train[:cfg["train_images"]]
    x_val, y_val = x_all[-VAL_IMAGES:], data.y_train[-VAL_IMAGES:]
    x_test = data.x_test.reshape(len(data.x_test), -1).astype(np.float32) / 255.0
    sizes = (784, *cfg["hidden"], 10)

    model = MLP(sizes, Linear, ReLU)
    optimizer = SGD(model.parameters(), lr=LR, momentum=0.9)
    loss_fn = CrossEntropyLoss()
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    for epoch in range(cfg["epochs"]):
        order = rng.permutation(len(x_train))
        for i in range(0, len(order), BATCH):
            idx = order[i:i + BATCH]
            loss = loss_fn(model(Tensor(x_train[idx])), Tensor(y_train[idx]))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        print(f"  epoch {epoch + 1}: loss {float(to_numpy(loss)):.3f}")
    base_acc = accuracy(model, x_val, y_val, Tensor, no_grad)
    print(f"Float32 MLP {sizes}: held-out accuracy {base_acc:.2%} ({time.perf_counter() - started:.0f} s)")
    with no_grad():
        metrics.artifact("mnist_test_predictions.npy", np.argmax(to_numpy(model(Tensor(x_test))), axis=1))

    pruned = clone(model, sizes, Linear, ReLU)
    magnitude_prune(pruned, sparsity=SPARSITY)
    sparsity = weight_sparsity(pruned)
    prune_acc = accuracy(pruned, x_val, y_val, Tensor, no_grad)
    print(f"Pruning to {SPARSITY:.0%}: {sparsity:.2%} of the weights are zero; accuracy {prune_acc:.2%}")

    quantized = clone(model, sizes, Linear, ReLU)
    float_bytes = storage_bytes(quantized)
    quantize_model(quantized)
    int8_bytes = storage_bytes(quantized)
    int8_acc = accuracy(quantized, x_val, y_val, Tensor, no_grad)
    print(f"Int8 quantization: {float_bytes:,} -> {int8_bytes:,} bytes ({int8_bytes / float_bytes:.3f} of "
          f"float32); accuracy {int8_acc:.2%}")

    low_rank = clone(model, sizes, Linear, ReLU)
    first = low_rank.layers[0]
    w = to_numpy(first.weight).astype(np.float64)
    low_rank.layers[0] = low_rank_approximate(first, RANK)
    w_r = effective_weight(low_rank.layers[0], sizes[0], Tensor, no_grad)
    error = np.linalg.norm(w - w_r) / np.linalg.norm(w)
    singular = np.linalg.svd(w, compute_uv=False)
    best = np.sqrt(np.sum(singular[RANK:] ** 2)) / np.linalg.norm(w)
    lr_acc = accuracy(low_rank, x_val, y_val, Tensor, no_grad)
    kept = RANK * (w.shape[0] + w.shape[1]) / w.size
    print(f"Rank-{RANK} first layer: {kept:.2f} of its weights; relative error {error:.4f} "
          f"(best possible {best:.4f}); accuracy {lr_acc:.2%}")

    metrics.report("float_accuracy", base_acc)
    metrics.report("prune_sparsity", sparsity)
    metrics.report("prune_accuracy_drop", 100 * (base_acc - prune_acc))
    metrics.report("int8_size_ratio", int8_bytes / float_bytes)
    metrics.report("int8_accuracy_drop", 100 * (base_acc - int8_acc))
    metrics.report("lowrank_error_ratio", float(error / best))
    metrics.report("lowrank_weight_ratio", kept)
    metrics.report("lowrank_accuracy_drop", 100 * (base_acc - lr_acc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
