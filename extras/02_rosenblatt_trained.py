"""1957 · Rosenblatt's perceptron, trained: one Linear neuron + Sigmoid separates two clusters.

Run it directly (`python extras/02_rosenblatt_trained.py [--quick] [--seed N]`) or under the
harness (`harness check perceptron`). It uses only the public TinyTorch API: Tensor, Linear,
Sigmoid, BinaryCrossEntropyLoss and SGD.

Under the harness the grader hands this script its training points, the layer's starting
weights and a numerics probe (all drawn from a secret seed); the script trains and returns the
trained weights and raw outputs, and the grader computes every number of criteria/perceptron.yaml
(numerics vs numpy, loss at start and end, how far the weights moved, accuracy on held-out points
only the grader has). Run directly, it draws its own data and prints its own estimates.
"""

from __future__ import annotations

import time

import numpy as np
from _harness import common, evidence, gates, metrics, probes

from tinytorch.core.activations import Sigmoid
from tinytorch.core.layers import Linear
from tinytorch.core.losses import BinaryCrossEntropyLoss
from tinytorch.core.optimizers import SGD
from tinytorch.core.tensor import Tensor

CENTER = 2.0  # clusters at (-2,-2) and (+2,+2), unit variance: Bayes accuracy is about 0.998


def make_clusters(n: int, rng: np.random.RandomState) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points, half from each cluster, shuffled; labels 0/1."""
    labels = np.arange(n) % 2
    points = rng.normal(0.0, 1.0, (n, 2)) + np.where(labels[:, None] == 1, CENTER, -CENTER)
    order = rng.permutation(n)
    return points[order].astype(np.float32), labels[order].astype(np.float32)


def predict(layer: Linear, activation: Sigmoid, x: np.ndarray) -> np.ndarray:
    """Probabilities as a numpy vector."""
    return common.to_numpy(activation(layer(Tensor(x)))).reshape(-1)


def main() -> None:
    args = common.parse_args(__doc__.splitlines()[0])
    common.seed_everything(args.seed)
    epochs, n_train = (20, 200) if args.quick else (60, 1000)
    print("== The perceptron (Rosenblatt, 1957), trained with YOUR TinyTorch ==")

    probes.linear_sigmoid_bce(Tensor, Linear, Sigmoid, BinaryCrossEntropyLoss)
    given = evidence.inputs()
    rng = np.random.RandomState(args.seed % (2**32))
    x_train, y_train = make_clusters(n_train, rng)
    if "data.x" in given:  # the grader's training points
        x_train, y_train = given["data.x"].astype(np.float32), given["data.y"].astype(np.float32)
        n_train = len(x_train)
    x_heldout, y_heldout = make_clusters(1000, rng)
    print(f"Data: {n_train} training points, {len(x_heldout)} held-out points of your own, two Gaussian "
          "clusters" + (" (the grader evaluates on held-out points of its own)" if given else ""))

    layer, activation = Linear(2, 1), Sigmoid()
    params = {"fc.weight": layer.weight, "fc.bias": layer.bias}
    evidence.start_from(params, given)
    loss_fn = BinaryCrossEntropyLoss()
    optimizer = SGD(layer.parameters(), lr=0.1)
    weights = {"fc": layer.weight}
    before = gates.snapshot(weights)

    start, losses, epoch_losses = time.perf_counter(), [], []
    batch = 20
    for epoch in range(epochs):
        order = rng.permutation(n_train)
        for i in range(0, n_train, batch):
            idx = order[i:i + batch]
            prob = activation(layer(Tensor(x_train[idx])))
            loss = loss_fn(prob, Tensor(y_train[idx].reshape(-1, 1)))
            optimizer.zero_grad()
            loss.backward()
            if not losses:
                gates.report_first_layer_grad("fc.weight", layer.weight)
            optimizer.step()
            if not losses:  # the host checks this step against SGD on this batch from its start
                evidence.export_weights(params, prefix="first_step.")
                evidence.record("first_step.batch", idx)
            losses.append(gates.scalar(loss))
        epoch_losses.append(float(np.mean(losses[-(n_train // batch):])))
        if epoch % 10 == 0 or epoch == epochs - 1:
            print(f"  epoch {epoch + 1:3d}/{epochs}: loss {epoch_losses[-1]:.4f}")
    metrics.report("train_seconds", time.perf_counter() - start)
    metrics.series("train_loss", epoch_losses)
    gates.report_loss_trend(losses)
    gates.report_weight_changes(before, weights)

    train_acc = gates.accuracy(predict(layer, activation, x_train) > 0.5, y_train)
    heldout_acc = gates.accuracy(predict(layer, activation, x_heldout) > 0.5, y_heldout)
    metrics.report("train_accuracy", train_acc)
    metrics.report("heldout_accuracy", heldout_acc)
    evidence.export_weights(params)
    evidence.record_consistency(given, lambda x: predict(layer, activation, x))
    w, b = common.to_numpy(layer.weight).reshape(-1), float(common.to_numpy(layer.bias).reshape(-1)[0])
    print(f"Learned boundary: {w[0]:.3f}*x1 + {w[1]:.3f}*x2 + {b:.3f} = 0")
    print(f"Accuracy: train {train_acc:.3f}, held-out {heldout_acc:.3f}")
    print("A single neuron draws one straight line - enough here, because the clusters are separable.")


if __name__ == "__main__":
    main()
