"""1986 · Rumelhart, Hinton & Williams: backpropagation trains an MLP on the full MNIST.

A 784-256-128-10 multilayer perceptron (Linear, ReLU, CrossEntropyLoss, Adam) learns to read
handwritten digits: 60,000 training images, 10,000 test images. Under the harness the test split
never enters the sandbox: the grader hands out the starting weights and a numerics probe, this
script trains and returns the trained weights, and the grader evaluates them on the test images.

Run it directly (`python extras/02_rumelhart_mnist.py [--quick] [--seed N]`; the data comes from
`harness data import mnist PATH` or `harness data fetch mnist`) or via `harness check mnist_mlp`.
"""

from __future__ import annotations

import numpy as np
from _harness import common, evidence, gates, metrics, probes
from _harness.course import no_grad
from _harness.data import load_mnist

from tinytorch.core.activations import ReLU
from tinytorch.core.layers import Linear
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.optimizers import Adam
from tinytorch.core.tensor import Tensor

MEAN, STD = 0.1307, 0.3081  # MNIST pixel statistics after /255
FULL = {"train_size": 60000, "epochs": 8, "batch": 128, "lr": 1e-3}
QUICK = {"train_size": 6000, "epochs": 2, "batch": 64, "lr": 2e-3}


class MLP:
    """784 -> 256 -> ReLU -> 128 -> ReLU -> 10 logits."""

    def __init__(self):
        self.fc1, self.fc2, self.fc3 = Linear(784, 256), Linear(256, 128), Linear(128, 10)
        self.relu = ReLU()

    def __call__(self, x):
        return self.fc3(self.relu(self.fc2(self.relu(self.fc1(x)))))

    def parameters(self):
        return [p for layer in (self.fc1, self.fc2, self.fc3) for p in layer.parameters()]

    def named_parameters(self) -> dict:
        return {f"{name}.{kind}": getattr(getattr(self, name), kind)
                for name in ("fc1", "fc2", "fc3") for kind in ("weight", "bias")}


def preprocess(images: np.ndarray) -> np.ndarray:
    """uint8 (N,28,28) -> standardised float32 (N,784)."""
    return ((images.reshape(len(images), -1).astype(np.float32) / 255.0 - MEAN) / STD).astype(np.float32)


def predict_scores(model: MLP, x: np.ndarray, batch: int = 1000) -> np.ndarray:
    """Logits for every row of ``x``, computed in batches without recording a graph."""
    out = []
    with no_grad():
        for i in range(0, len(x), batch):
            out.append(np.array(common.to_numpy(model(Tensor(x[i:i + batch])))))
    return np.concatenate(out)


def predict(model: MLP, x: np.ndarray) -> np.ndarray:
    return predict_scores(model, x).argmax(axis=1)


def main() -> None:
    args = common.parse_args(__doc__.splitlines()[0])
    common.seed_everything(args.seed)
    cfg = QUICK if args.quick else FULL
    print("== Backpropagation revives the MLP (Rumelhart, Hinton & Williams, 1986): MNIST ==")

    probes.mlp_cross_entropy(Tensor, Linear, ReLU, CrossEntropyLoss)
    given = evidence.inputs()

    data = load_mnist()
    rng = np.random.RandomState(args.seed % (2**32))
    subset = rng.permutation(len(data.x_train))[:cfg["train_size"]]
    x_train, y_train = preprocess(data.x_train[subset]), data.y_train[subset]
    print(f"Data: {len(x_train)} training images"
          + (f", {len(data.x_test)} test images" if data.x_test is not None
             else "; the test images stay with the grader"))

    model, loss_fn = MLP(), CrossEntropyLoss()
    evidence.start_from(model.named_parameters(), given)
    optimizer = Adam(model.parameters(), lr=cfg["lr"])
    weights = {"fc1": model.fc1.weight, "fc2": model.fc2.weight, "fc3": model.fc3.weight}
    gates.train_epochs(model, loss_fn, optimizer, Tensor, x_train, y_train, epochs=cfg["epochs"],
                       batch=cfg["batch"], rng=rng, weights=weights, first_layer="fc1")

    train_acc = gates.accuracy(predict(model, x_train[:10000]), y_train[:10000])
    metrics.report("train_accuracy", train_acc)
    evidence.export_weights(model.named_parameters())
    evidence.record_consistency(given, lambda x: predict_scores(model, x))
    print(f"Accuracy on (up to 10,000) training images: {train_acc:.4f}")
    if data.x_test is not None and data.y_test is not None:
        predictions = predict(model, preprocess(data.x_test))
        print(f"Test accuracy: {gates.accuracy(predictions, data.y_test):.4f} "
              "(under the harness, the grader computes it from your trained weights)")


if __name__ == "__main__":
    main()
