"""1986 · Rumelhart, Hinton & Williams: backpropagation trains an MLP on the full MNIST.

A 784-256-128-10 multilayer perceptron (Linear, ReLU, CrossEntropyLoss, Adam) learns to read
handwritten digits: 60,000 training images, 10,000 test images. Under the harness the test
labels never enter the sandbox: this script writes its test predictions and the host scores them.

Run it directly (`python extras/02_rumelhart_mnist.py [--quick] [--seed N]`; the data comes from
`harness data import mnist PATH` or `harness data fetch mnist`) or via `harness check mnist_mlp`.
"""

from __future__ import annotations

import numpy as np
from _harness import common, gates, metrics, probes
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


def preprocess(images: np.ndarray) -> np.ndarray:
    """uint8 (N,28,28) -> standardised float32 (N,784)."""
    return ((images.reshape(len(images), -1).astype(np.float32) / 255.0 - MEAN) / STD).astype(np.float32)


def predict(model: MLP, x: np.ndarray, batch: int = 1000) -> np.ndarray:
    """Class ids for every row of ``x``, computed in batches without recording a graph."""
    out = []
    with no_grad():
        for i in range(0, len(x), batch):
            out.append(common.to_numpy(model(Tensor(x[i:i + batch]))).argmax(axis=1))
    return np.concatenate(out)


def main() -> None:
    args = common.parse_args(__doc__.splitlines()[0])
    common.seed_everything(args.seed)
    cfg = QUICK if args.quick else FULL
    print("== Backpropagation revives the MLP (Rumelhart, Hinton & Williams, 1986): MNIST ==")

    probes.report(probes.mlp_cross_entropy(Tensor, Linear, ReLU, CrossEntropyLoss))

    data = load_mnist()
    rng = np.random.RandomState(args.seed % (2**32))
    subset = rng.permutation(len(data.x_train))[:cfg["train_size"]]
    x_train, y_train = preprocess(data.x_train[subset]), data.y_train[subset]
    x_test = preprocess(data.x_test)
    print(f"Data: {len(x_train)} training images, {len(x_test)} test images "
          f"({'test labels available' if data.y_test is not None else 'test labels held by the grader'})")

    model, loss_fn = MLP(), CrossEntropyLoss()
    optimizer = Adam(model.parameters(), lr=cfg["lr"])
    weights = {"fc1": model.fc1.weight, "fc2": model.fc2.weight, "fc3": model.fc3.weight}
    gates.train_epochs(model, loss_fn, optimizer, Tensor, x_train, y_train, epochs=cfg["epochs"],
                       batch=cfg["batch"], rng=rng, weights=weights, first_layer="fc1")

    train_acc = gates.accuracy(predict(model, x_train[:10000]), y_train[:10000])
    metrics.report("train_accuracy", train_acc)
    predictions = predict(model, x_test).astype(np.int64)
    metrics.artifact("mnist_test_predictions.npy", predictions)
    print(f"Accuracy on (up to 10,000) training images: {train_acc:.4f}")
    if data.y_test is not None:
        print(f"Test accuracy: {gates.accuracy(predictions, data.y_test):.4f} "
              "(under the harness, the grader computes this from the predictions)")


if __name__ == "__main__":
    main()
