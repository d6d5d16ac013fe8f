"""Evidence kits of the four classic extras: perceptron, XOR, MNIST MLP, CIFAR-10 LeNet.

Each run starts from initial weights the host drew (course initialisation: ``Linear`` randn ·
sqrt(1/in) with zero bias, ``Conv2d`` He-normal), runs a numerics probe on secret inputs, and
exports its trained weights plus its own outputs on a secret consistency batch. The host then
rebuilds the extra's fixed architecture in numpy and computes every grade-bearing number:
held-out accuracy (MNIST/CIFAR-10 test images never enter the sandbox), the loss at the start and
the end on data it holds, how far each layer moved from the start it handed out, and how much of
that start the trained first layer still carries (weights trained elsewhere carry none).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from . import EvidenceProblem
from . import numpy_ref as ref
from .kit import (
    Arrays,
    HostValue,
    Kit,
    Measured,
    Prepared,
    consistent,
    correlation,
    exported,
    finite_or_explained,
    nonfinite,
    probe_metrics,
    relative_change,
    weights_or_problem,
)
from .probes import PROBES
from .shipped import helper

WEIGHT_METRICS = ("test_accuracy", "heldout_accuracy", "train_accuracy", "mlp_accuracy", "loss_ratio",
                  "min_weight_change", "first_layer_weight_change", "init_correlation")


def linear_init(rng: np.random.Generator, fan_in: int, fan_out: int) -> tuple[np.ndarray, np.ndarray]:
    return (rng.standard_normal((fan_in, fan_out)) * np.sqrt(1.0 / fan_in)).astype(np.float32), \
        np.zeros(fan_out, np.float32)


def conv_init(rng: np.random.Generator, out_c: int, in_c: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    fan_in = in_c * k * k
    return (rng.standard_normal((out_c, in_c, k, k)) * np.sqrt(2.0 / fan_in)).astype(np.float32), \
        np.zeros(out_c, np.float32)


def _layout(init: Arrays) -> dict[str, tuple[int, ...]]:
    return {name: array.shape for name, array in init.items()}


def _public(probe_inputs: Arrays, init: Arrays, consistency_x: np.ndarray, **more) -> Arrays:
    arrays = {f"probe.{k}": v for k, v in probe_inputs.items()}
    arrays.update({f"init.{k}": v for k, v in init.items()})
    arrays["consistency.x"] = consistency_x
    arrays.update(more)
    return arrays


def _changes(init: Arrays, trained: Arrays, layers: tuple[str, ...]) -> dict[str, float]:
    return {layer: relative_change(init[f"{layer}.weight"].astype(np.float64), trained[f"{layer}.weight"])
            for layer in layers}


def _movement(init: Arrays, trained: Arrays, layers: tuple[str, ...]) -> dict[str, HostValue]:
    changes = _changes(init, trained, layers)
    smallest = min(changes, key=changes.get)
    first = f"{layers[0]}.weight"
    out: dict[str, HostValue] = {f"weight_change_{k}": v for k, v in changes.items()}
    frozen = " (frozen, or missing from the optimizer?)" if changes[smallest] < 1e-3 else ""
    out["min_weight_change"] = Measured(changes[smallest], f"least moved: `{smallest}.weight`{frozen}")
    out["first_layer_weight_change"] = Measured(
        changes[layers[0]], None if changes[layers[0]] > 0 else
        f"`{first}` never moved: no gradient reached it (is the loss connected to the model?)")
    out["init_correlation"] = correlation(init[first].astype(np.float64), trained[first])
    return out


def _accuracy(scores: np.ndarray, labels: np.ndarray) -> float:
    ids = scores.argmax(axis=1) if scores.ndim == 2 and scores.shape[1] > 1 else (scores.reshape(-1) > 0.5)
    return float(np.mean(ids.astype(np.int64) == labels.reshape(-1).astype(np.int64)))


def _ratio(after: float, before: float) -> HostValue:
    """Loss after training over the loss at the grader's start; an infinite ratio says why."""
    value = after / before if before > 0 else float("inf")
    return finite_or_explained(value, "the host's loss of your trained weights over the loss of the grader's "
                                      f"start ({after:.4g} / {before:.4g})")


def _score_weights(evidence: Arrays, prepared: Prepared, forward: Callable[[Arrays, np.ndarray], np.ndarray],
                   body: Callable[[Arrays], dict[str, HostValue]],
                   first_step: Callable[[], str | None] | None = None) -> dict[str, HostValue]:
    """Exported weights -> consistency with the student's own outputs -> the first optimizer step
    from the grader's start (``first_step``: why it is wrong, or None) -> ``body(trained)``."""
    def compute() -> dict[str, HostValue]:
        trained = exported(evidence, _layout(prepared.private["init"]))
        consistent(forward(trained, prepared.public["consistency.x"].astype(np.float64)), evidence)
        problem = first_step() if first_step is not None else None
        if problem is not None:
            raise EvidenceProblem(problem)
        return body(trained)
    layers = tuple(f"weight_change_{name.split('.')[0]}" for name in prepared.private["init"]
                   if name.endswith(".weight"))
    return weights_or_problem(compute, WEIGHT_METRICS + layers)


# --- perceptron ---------------------------------------------------------------------------------

CLUSTER_CENTER = 2.0


def clusters(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    labels = np.arange(n) % 2
    points = rng.normal(0.0, 1.0, (n, 2)) + np.where(labels[:, None] == 1, CLUSTER_CENTER, -CLUSTER_CENTER)
    order = rng.permutation(n)
    return points[order].astype(np.float32), labels[order].astype(np.float32)


PERCEPTRON_LR = 0.1  # extras/02_rosenblatt_trained.py: SGD(lr=0.1)
XOR_LR, ADAM_EPS = 0.05, 1e-8  # extras/01_xor_crisis.py: Adam(lr=0.05), the course's default eps
FIRST_STEP_TOLERANCE = 0.05  # ||student's first step - the host's|| / ||the host's||


def _first_step(evidence: Arrays, start: Arrays, prefix: str, expected: Arrays, optimizer: str) -> str | None:
    """Why the weights after the run's first optimizer step (``prefix`` + name) are not ``start`` +
    ``expected`` (the host's step), or None when they are: weights trained elsewhere, or a start that
    was ignored, cannot match it."""
    names = list(expected)
    after = [evidence.get(prefix + name) for name in names]
    if any(a is None or a.size != start[n].size for a, n in zip(after, names, strict=True)):
        return f"the run recorded no weights after its first optimizer step (`{prefix}*`)"
    taken = {n: a.reshape(-1) - start[n].reshape(-1) for a, n in zip(after, names, strict=True)}
    wanted = {n: expected[n].reshape(-1) for n in names}
    off = float(np.linalg.norm(np.concatenate([taken[n] - wanted[n] for n in names]))
                / max(np.linalg.norm(np.concatenate(list(wanted.values()))), 1e-12))
    if not off <= FIRST_STEP_TOLERANCE:
        worst = max(names, key=lambda n: np.linalg.norm(taken[n] - wanted[n]))
        moved, should = np.linalg.norm(taken[worst]), np.linalg.norm(wanted[worst])
        return (f"the first optimizer step from the grader's start is off by {off:.2g} (relative) from "
                f"{optimizer} on the host's gradient of the same loss; most of all `{worst}`, moved by "
                f"{moved:.3g} where the host moves it by {should:.3g}: "
                "a layer whose gradient is wrong, an optimizer that is not the course's, or weights that do "
                "not descend from the given start")
    return None


def perceptron_forward(w: Arrays, x: np.ndarray) -> np.ndarray:
    return ref.sigmoid(ref.linear(x, w["fc.weight"], w["fc.bias"]))


def prepare_perceptron(rng: np.random.Generator, profile: str) -> Prepared:
    x, y = clusters(rng, 200 if profile == "quick" else 1000)
    held_x, held_y = clusters(rng, 1000)
    weight, bias = linear_init(rng, 2, 1)
    init = {"fc.weight": weight, "fc.bias": bias}
    probe = PROBES["linear_sigmoid_bce"].draw(rng)
    public = _public(probe, init, rng.normal(0, 2, (16, 2)).astype(np.float32),
                     **{"data.x": x, "data.y": y})
    return Prepared(public, {"init": init, "probe": probe, "heldout": (held_x, held_y)})


def score_perceptron(evidence: Arrays, prepared: Prepared, profile: str) -> dict[str, HostValue]:
    metrics = probe_metrics(PROBES["linear_sigmoid_bce"], prepared.private["probe"], evidence)
    x, y = prepared.public["data.x"].astype(np.float64), prepared.public["data.y"]
    held_x, held_y = prepared.private["heldout"]
    init = {k: v.astype(np.float64) for k, v in prepared.private["init"].items()}

    def body(trained: Arrays) -> dict[str, HostValue]:
        p0, p1 = perceptron_forward(init, x), perceptron_forward(trained, x)
        out = _movement(prepared.private["init"], trained, ("fc",))
        out.update(train_accuracy=_accuracy(p1, y),
                   heldout_accuracy=_accuracy(perceptron_forward(trained, held_x.astype(np.float64)), held_y),
                   loss_ratio=_ratio(ref.bce(np.clip(p1, 1e-12, 1 - 1e-12), y[:, None]),
                                     ref.bce(np.clip(p0, 1e-12, 1 - 1e-12), y[:, None])))
        return out

    metrics.update(_score_weights(evidence, prepared, perceptron_forward, body,
                                  lambda: _perceptron_first_step(evidence, prepared)))
    return metrics


def _perceptron_first_step(evidence: Arrays, prepared: Prepared) -> str | None:
    """The first SGD step of the run, on the batch it says it used, against the host's gradient."""
    batch = evidence.get("first_step.batch")
    x, y = prepared.public["data.x"].astype(np.float64), prepared.public["data.y"].astype(np.float64)
    if batch is None or batch.ndim != 1 or not batch.size or batch.min() < 0 or batch.max() >= len(x):
        return "the run did not record the batch of its first optimizer step (`first_step.batch`)"
    start = {k: v.astype(np.float64) for k, v in prepared.private["init"].items()}
    xb, yb = x[batch.astype(np.int64)], y[batch.astype(np.int64)][:, None]
    error = (perceptron_forward(start, xb) - yb) / len(xb)  # d mean-BCE / d logit
    expected = {"fc.weight": -PERCEPTRON_LR * xb.T @ error, "fc.bias": -PERCEPTRON_LR * error.sum(axis=0)}
    return _first_step(evidence, start, "first_step.", expected, f"SGD(lr={PERCEPTRON_LR})")


# --- XOR --------------------------------------------------------------------------------------

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
XOR_Y = np.array([0, 1, 1, 0], dtype=np.float64)
XOR_ATTEMPTS = 3
XOR_HIDDEN = 8


def xor_forward(w: Arrays, x: np.ndarray) -> np.ndarray:
    hidden = np.tanh(ref.linear(x, w["hidden.weight"], w["hidden.bias"]))
    return ref.sigmoid(ref.linear(hidden, w["output.weight"], w["output.bias"]))


def prepare_xor(rng: np.random.Generator, profile: str) -> Prepared:
    starts = []
    for _ in range(XOR_ATTEMPTS):
        hw, hb = linear_init(rng, 2, XOR_HIDDEN)
        ow, ob = linear_init(rng, XOR_HIDDEN, 1)
        starts.append({"hidden.weight": hw, "hidden.bias": hb, "output.weight": ow, "output.bias": ob})
    probe = PROBES["mlp_tanh_bce"].draw(rng)
    public = _public(probe, {}, rng.uniform(-1, 2, (8, 2)).astype(np.float32))
    for attempt, start in enumerate(starts):
        public.update({f"init{attempt}.{k}": v for k, v in start.items()})
    return Prepared(public, {"init": starts[0], "starts": starts, "probe": probe})


def score_xor(evidence: Arrays, prepared: Prepared, profile: str) -> dict[str, HostValue]:
    metrics = probe_metrics(PROBES["mlp_tanh_bce"], prepared.private["probe"], evidence)
    attempt = evidence.get("mlp.attempt")
    starts = prepared.private["starts"]
    if attempt is None or attempt.size != 1 or not 0 <= int(attempt.reshape(-1)[0]) < len(starts):
        problem = EvidenceProblem("the run did not say which of the grader's starting points it trained "
                                  "(`mlp.attempt`), so its weights cannot be judged")
        names = WEIGHT_METRICS + ("weight_change_hidden", "weight_change_output")
        metrics.update(dict.fromkeys(names, problem))
        return metrics
    start = starts[int(attempt.reshape(-1)[0])]
    chosen = Prepared(prepared.public, {**prepared.private, "init": start})
    init = {k: v.astype(np.float64) for k, v in start.items()}

    def body(trained: Arrays) -> dict[str, HostValue]:
        p0, p1 = xor_forward(init, XOR_X), xor_forward(trained, XOR_X)
        out = _movement(start, trained, ("hidden", "output"))
        out.update(mlp_accuracy=_accuracy(p1, XOR_Y),
                   loss_ratio=_ratio(ref.bce(np.clip(p1, 1e-12, 1 - 1e-12), XOR_Y[:, None]),
                                     ref.bce(np.clip(p0, 1e-12, 1 - 1e-12), XOR_Y[:, None])))
        return out

    metrics.update(_score_weights(evidence, chosen, xor_forward, body,
                                  lambda: _xor_first_step(evidence, init, int(attempt.reshape(-1)[0]))))
    return metrics


def _xor_first_step(evidence: Arrays, start: Arrays, attempt: int) -> str | None:
    """The first Adam step of the exported attempt (full batch, mean BCE) against the host's: after
    one step Adam moves each weight by lr * g / (|g| + eps)."""
    hidden = np.tanh(ref.linear(XOR_X, start["hidden.weight"], start["hidden.bias"]))
    output = ref.sigmoid(ref.linear(hidden, start["output.weight"], start["output.bias"]))
    error = (output - XOR_Y[:, None]) / len(XOR_X)  # d mean-BCE / d logit
    back = (error @ start["output.weight"].T) * (1 - hidden ** 2)
    grads = {"hidden.weight": XOR_X.T @ back, "hidden.bias": back.sum(axis=0),
             "output.weight": hidden.T @ error, "output.bias": error.sum(axis=0)}
    expected = {name: -XOR_LR * g / (np.abs(g) + ADAM_EPS) for name, g in grads.items()}
    return _first_step(evidence, start, f"first_step{attempt}.", expected, f"Adam(lr={XOR_LR})")


# --- MNIST MLP --------------------------------------------------------------------------------

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
MNIST_LAYERS = (("fc1", 784, 256), ("fc2", 256, 128), ("fc3", 128, 10))


def mnist_preprocess(images: np.ndarray) -> np.ndarray:
    return ((images.reshape(len(images), -1).astype(np.float32) / 255.0 - MNIST_MEAN) / MNIST_STD)


def mlp_forward(w: Arrays, x: np.ndarray) -> np.ndarray:
    h = np.maximum(ref.linear(x, w["fc1.weight"], w["fc1.bias"]), 0)
    h = np.maximum(ref.linear(h, w["fc2.weight"], w["fc2.bias"]), 0)
    return ref.linear(h, w["fc3.weight"], w["fc3.bias"])


def _heldout(name: str, split: str):
    from harness.datasets import heldout_split
    from harness.judging.scorers import ScoringUnavailable

    try:
        return heldout_split(name, split)
    except Exception as exc:  # the host's data, not the student's fault
        raise ScoringUnavailable(f"the host cannot read {name}:{split} ({exc})") from None


def prepare_mnist(rng: np.random.Generator, profile: str) -> Prepared:
    init = {}
    for name, fan_in, fan_out in MNIST_LAYERS:
        init[f"{name}.weight"], init[f"{name}.bias"] = linear_init(rng, fan_in, fan_out)
    probe = PROBES["mlp_cross_entropy"].draw(rng)
    public = _public(probe, init, rng.normal(0, 1, (32, 784)).astype(np.float32))
    sample = rng.choice(60000, 2000, replace=False)
    return Prepared(public, {"init": init, "probe": probe, "loss_sample": sample})


MIN_IMPRINT = 0.1  # a trained first layer keeps ~0.5-0.99 correlation with its start; another start gives ~0


def _descends_from_start(init: Arrays, trained: Arrays, first: str) -> None:
    """Weights trained from another start (shipped, or the grader's start ignored) earn nothing."""
    imprint = correlation(init[first].astype(np.float64), trained[first])
    if not imprint >= MIN_IMPRINT:
        raise EvidenceProblem(
            f"the trained weights do not descend from the starting weights the grader handed out "
            f"(correlation of `{first}` with its start {imprint:.3f} < {MIN_IMPRINT}): the model was trained "
            "from another start, or the given start was not loaded")


def _classifier_scores(evidence: Arrays, prepared: Prepared, probe: str, dataset: str,
                       layers: tuple[str, ...],
                       forward: Callable[[Arrays, np.ndarray], np.ndarray],
                       preprocess: Callable[[np.ndarray], np.ndarray]) -> dict[str, HostValue]:
    metrics = probe_metrics(PROBES[probe], prepared.private["probe"], evidence)
    init = {k: v.astype(np.float64) for k, v in prepared.private["init"].items()}

    def body(trained: Arrays) -> dict[str, HostValue]:
        _descends_from_start(prepared.private["init"], trained, f"{layers[0]}.weight")
        x_test, y_test = _heldout(dataset, "test")
        x_train, y_train = _heldout(dataset, "train")
        pick = prepared.private["loss_sample"]
        x_loss, y_loss = preprocess(x_train[pick]).astype(np.float64), y_train[pick]
        single = {k: v.astype(np.float32) for k, v in trained.items()}  # float32: 10,000 images at speed
        scores = np.concatenate([forward(single, preprocess(x_test[i:i + 1000]).astype(np.float32))
                                 for i in range(0, len(x_test), 1000)])
        out = _movement(prepared.private["init"], trained, layers)
        out.update(test_accuracy=_accuracy(scores, y_test),
                   loss_ratio=_ratio(ref.cross_entropy(forward(trained, x_loss), y_loss),
                                     ref.cross_entropy(forward(init, x_loss), y_loss)))
        return out

    metrics.update(_score_weights(evidence, prepared, forward, body))
    return metrics


def score_mnist(evidence: Arrays, prepared: Prepared, profile: str) -> dict[str, HostValue]:
    return _classifier_scores(evidence, prepared, "mlp_cross_entropy", "mnist", ("fc1", "fc2", "fc3"),
                              mlp_forward, mnist_preprocess)


# --- CIFAR-10 LeNet ---------------------------------------------------------------------------

CIFAR_MEAN = np.array([0.4914, 0.4822, 0.4465], dtype=np.float32)
CIFAR_STD = np.array([0.2470, 0.2435, 0.2616], dtype=np.float32)


def cifar_preprocess(images: np.ndarray) -> np.ndarray:
    x = (np.asarray(images, dtype=np.float32) / 255.0 - CIFAR_MEAN) / CIFAR_STD
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def lenet_forward(w: Arrays, x: np.ndarray) -> np.ndarray:
    h = ref.maxpool2d(np.maximum(ref.conv2d(x, w["conv1.weight"], w["conv1.bias"]), 0), 2)
    h = ref.maxpool2d(np.maximum(ref.conv2d(h, w["conv2.weight"], w["conv2.bias"]), 0), 2)
    h = np.maximum(ref.linear(h.reshape(len(h), -1), w["fc1.weight"], w["fc1.bias"]), 0)
    return ref.linear(h, w["fc2.weight"], w["fc2.bias"])


# The training images the host picks for each run (extras/02_lecun_cifar10.py FULL/QUICK train_size):
# sized for a Conv2d with Python loops (the course's, ~1.2 s of CPU per image and training step).
CIFAR_TRAIN_IMAGES = {"full": 1000, "quick": 32}
CIFAR_LOSS_IMAGES = 500  # of those, the images the host measures the loss on (start vs trained)


def prepare_cifar(rng: np.random.Generator, profile: str) -> Prepared:
    init = {}
    init["conv1.weight"], init["conv1.bias"] = conv_init(rng, 16, 3, 3)
    init["conv2.weight"], init["conv2.bias"] = conv_init(rng, 32, 16, 3)
    init["fc1.weight"], init["fc1.bias"] = linear_init(rng, 32 * 6 * 6, 128)
    init["fc2.weight"], init["fc2.bias"] = linear_init(rng, 128, 10)
    probe = PROBES["conv_pool_cross_entropy"].draw(rng)
    train = np.sort(rng.choice(50000, CIFAR_TRAIN_IMAGES[profile], replace=False)).astype(np.int64)
    public = _public(probe, init, rng.normal(0, 1, (8, 3, 32, 32)).astype(np.float32),
                     **{"train.indices": train})
    sample = rng.choice(train, min(CIFAR_LOSS_IMAGES, len(train)), replace=False)
    return Prepared(public, {"init": init, "probe": probe, "loss_sample": sample})


def score_cifar(evidence: Arrays, prepared: Prepared, profile: str) -> dict[str, HostValue]:
    return _classifier_scores(evidence, prepared, "conv_pool_cross_entropy", "cifar10",
                              ("conv1", "conv2", "fc1", "fc2"), lenet_forward, cifar_preprocess)


PROBE_METRICS = ("forward_max_error", "backward_max_error")
KITS = {
    "perceptron": Kit("perceptron", PROBE_METRICS + ("train_accuracy", "heldout_accuracy", "loss_ratio",
                                                     "min_weight_change", "first_layer_weight_change",
                                                     "weight_change_fc", "init_correlation"),
                      prepare_perceptron, score_perceptron),
    "xor_crisis": Kit("xor_crisis", PROBE_METRICS + ("mlp_accuracy", "loss_ratio", "min_weight_change",
                                                     "first_layer_weight_change", "weight_change_hidden",
                                                     "weight_change_output", "init_correlation"),
                      prepare_xor, score_xor),
    "mnist_mlp": Kit("mnist_mlp", PROBE_METRICS + ("test_accuracy", "loss_ratio", "min_weight_change",
                                                   "first_layer_weight_change", "init_correlation",
                                                   "weight_change_fc1", "weight_change_fc2",
                                                   "weight_change_fc3"),
                     prepare_mnist, score_mnist),
    "cifar10_cnn": Kit("cifar10_cnn", PROBE_METRICS + ("test_accuracy", "loss_ratio", "min_weight_change",
                                                       "first_layer_weight_change", "init_correlation",
                                                       "weight_change_conv1", "weight_change_conv2",
                                                       "weight_change_fc1", "weight_change_fc2"),
                       prepare_cifar, score_cifar),
}


# --- compression: the float model being compressed --------------------------------------------

COMPRESSION_SIZES = {"full": (784, 128, 64, 10), "quick": (784, 64, 32, 10)}  # extras/02_compression.py


def _compression_layout(profile: str) -> dict[str, tuple[int, ...]]:
    sizes = COMPRESSION_SIZES[profile]
    layout = {}
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layout[f"layers.{2 * i}.weight"], layout[f"layers.{2 * i}.bias"] = (n_in, n_out), (n_out,)
    return layout


def layer_mlp_forward(w: Arrays, x: np.ndarray) -> np.ndarray:
    """``model.layers`` = Linear, ReLU, Linear, ReLU, ..., Linear (the course's model shape)."""
    count = len([k for k in w if k.endswith(".weight")])
    for i in range(count):
        x = ref.linear(x, w[f"layers.{2 * i}.weight"], w[f"layers.{2 * i}.bias"])
        x = np.maximum(x, 0) if i < count - 1 else x
    return x


COMPRESSION_METRICS = ("float_test_accuracy", "prune_sparsity", "prune_accuracy_drop", "int8_output_error",
                       "int8_accuracy_drop", "int8_size_ratio", "lowrank_error_ratio",
                       "lowrank_accuracy_drop")
INT8_REBUILD_TOLERANCE = 0.05  # the quantized model's own outputs vs the host's rebuild from its parameters
# Compression is graded on a trained model: below this float test accuracy (chance is 0.1, the
# float check asks 0.8) every cost, sparsity and size is meaningless and earns nothing.
COMPRESSION_TRAINED_ACCURACY = 0.5
COMPRESSION_RANK_RATIO = 0.25  # extras/02_compression.py
PROBE_IMAGES = 1000  # training images past the script's training slice, for the int8 model's outputs


def prepare_compression(rng: np.random.Generator, profile: str) -> Prepared:
    layout = _compression_layout(profile)
    picks = np.sort(rng.choice(np.arange(50000, 60000), PROBE_IMAGES, replace=False))  # never trained on
    x_train, y_train = _heldout("mnist", "train")
    images = x_train[picks].reshape(PROBE_IMAGES, -1).astype(np.float32) / 255.0
    return Prepared({"consistency.x": rng.uniform(0, 1, (16, 784)).astype(np.float32), "int8.x": images},
                    {"layout": layout, "int8.y": y_train[picks]})


def _test_accuracy(weights: Arrays) -> float:
    x_test, y_test = _heldout("mnist", "test")
    x = x_test.reshape(len(x_test), -1).astype(np.float32) / 255.0
    return _accuracy(layer_mlp_forward({k: v.astype(np.float32) for k, v in weights.items()}, x), y_test)


def _lowrank(evidence: Arrays, trained: Arrays, float_acc: float) -> dict[str, HostValue]:
    w = trained["layers.0.weight"]
    rank = max(1, int(COMPRESSION_RANK_RATIO * min(w.shape)))
    factors = [evidence.get(f"lowrank.{k}") for k in "usv"]
    if any(f is None for f in factors):
        raise EvidenceProblem("low_rank_approximate's factors were not recorded (`lowrank.u/s/v`): see "
                              "the run's output")
    u, s, v = (f.astype(np.float64) for f in factors)
    if (u.shape, s.shape, v.shape) != ((w.shape[0], rank), (rank,), (rank, w.shape[1])):
        raise EvidenceProblem(f"U, S, V are shaped {u.shape}, {s.shape}, {v.shape}; the course's are "
                              f"{(w.shape[0], rank)}, {(rank,)}, {(rank, w.shape[1])}")
    approx = u @ np.diag(s) @ v
    best = np.sqrt(np.sum(np.linalg.svd(w, compute_uv=False)[rank:] ** 2))
    ratio = float(np.linalg.norm(w - approx) / best)
    low_rank_acc = _test_accuracy({**trained, "layers.0.weight": approx})
    return {"lowrank_error_ratio": finite_or_explained(
                ratio, "||W − U·diag(S)·V|| over the best rank-r error (the host's SVD)",
                nonfinite(U=u, S=s, V=v)),
            "lowrank_accuracy_drop": 100 * (float_acc - low_rank_acc)}


def score_compression(evidence: Arrays, prepared: Prepared, profile: str) -> dict[str, HostValue]:
    """The float model from its exported weights; pruning from the pruned weights; int8 from the
    quantized model's own outputs on the host's images; low rank from the returned factors."""
    layout = prepared.private["layout"]

    def float_model() -> dict[str, HostValue]:
        trained = exported(evidence, layout)
        consistent(layer_mlp_forward(trained, prepared.public["consistency.x"].astype(np.float64)), evidence)
        float_acc = _test_accuracy(trained)
        out: dict[str, HostValue] = {"float_test_accuracy": float_acc}
        if float_acc < COMPRESSION_TRAINED_ACCURACY:
            untrained = EvidenceProblem(f"the float model reached {float_acc:.3f} test accuracy: compressing "
                                        "an untrained model shows nothing, so its compression is not graded")
            return {**dict.fromkeys(COMPRESSION_METRICS, untrained), **out}
        out.update(weights_or_problem(lambda: _pruned(evidence, layout, float_acc),
                                      ("prune_sparsity", "prune_accuracy_drop")))
        out.update(weights_or_problem(lambda: _int8(evidence, trained, prepared),
                                      ("int8_output_error", "int8_accuracy_drop")))
        out.update(weights_or_problem(lambda: _int8_size(evidence, trained, prepared), ("int8_size_ratio",)))
        out.update(weights_or_problem(lambda: _lowrank(evidence, trained, float_acc),
                                      ("lowrank_error_ratio", "lowrank_accuracy_drop")))
        return out

    return weights_or_problem(float_model, COMPRESSION_METRICS)


def _pruned(evidence: Arrays, layout: dict, float_acc: float) -> dict[str, HostValue]:
    pruned = exported(evidence, layout, prefix="pruned.")
    matrices = [v for k, v in pruned.items() if k.endswith(".weight")]
    sparsity = sum(int(np.sum(m == 0)) for m in matrices) / sum(m.size for m in matrices)
    return {"prune_sparsity": sparsity, "prune_accuracy_drop": 100 * (float_acc - _test_accuracy(pruned))}


def _int8(evidence: Arrays, trained: Arrays, prepared: Prepared) -> dict[str, HostValue]:
    outputs = evidence.get("int8.out")
    images, labels = prepared.public["int8.x"], prepared.private["int8.y"]
    if outputs is None or outputs.shape != (len(images), 10):
        raise EvidenceProblem(f"the quantized model's outputs on the grader's {len(images)} images were not "
                              "recorded (`int8.out`, shape (N, 10)): see the run's output")
    reference = layer_mlp_forward(trained, images.astype(np.float64))
    error = float(np.linalg.norm(outputs - reference) / np.linalg.norm(reference))
    return {"int8_output_error": finite_or_explained(
                error, "the relative error of the quantized model's outputs on the grader's images",
                nonfinite(**{"int8.out": outputs})),
            "int8_accuracy_drop": 100 * (_accuracy(reference, labels) - _accuracy(outputs, labels))}


def _held(evidence: Arrays, layer: int) -> list[tuple[np.ndarray, int]]:
    """(values, item size) of each array the quantized ``model.layers[layer]``'s parameters() hold."""
    held, i = [], 0
    while f"int8.params.l{layer}.p{i}" in evidence:
        itemsize = evidence.get(f"int8.itemsize.l{layer}.p{i}", np.array([8]))
        held.append((evidence[f"int8.params.l{layer}.p{i}"].astype(np.float64), int(itemsize.reshape(-1)[0])))
        i += 1
    return held


def _rebuilt_parameter(held: list[tuple[np.ndarray, int]], target: np.ndarray) -> np.ndarray | None:
    """The held array shaped like ``target`` (a transposed weight and a (1, n) bias are accepted),
    dequantized by the least-squares scale and offset when it holds byte codes; None when no held
    array has that shape."""
    for values, itemsize in held:
        for candidate in (values, values.T):
            if candidate.size != target.size or (candidate.shape != target.shape and target.ndim != 1):
                continue
            candidate = candidate.reshape(target.shape)
            if not helper("sizes").is_byte_code(candidate, itemsize):
                return candidate
            design = np.stack([candidate.ravel(), np.ones(candidate.size)], axis=1)
            coef, *_ = np.linalg.lstsq(design, target.ravel(), rcond=None)
            return (design @ coef).reshape(target.shape)
    return None


def _int8_size(evidence: Arrays, trained: Arrays, prepared: Prepared) -> dict[str, HostValue]:
    """Bytes the quantized layers' parameters() need (one per byte code, the item size otherwise, 4
    per float value they do not hold) over the float model's bytes; counted only when those
    parameters reproduce the quantized model's own outputs (else they are not its weights)."""
    outputs = evidence.get("int8.out")
    if outputs is None:
        raise EvidenceProblem("the quantized model's outputs were not recorded (`int8.out`), so its size "
                              "cannot be tied to it")
    layers = sorted({int(name.split(".")[1]) for name in trained})
    held = {layer: _held(evidence, layer) for layer in layers}
    rebuilt = {}
    for name, target in trained.items():
        layer, kind = int(name.split(".")[1]), name.rsplit(".", 1)[1]
        rebuilt[name] = _rebuilt_parameter(held[layer], target)
        if rebuilt[name] is None:
            raise EvidenceProblem(f"quantized layer {layer}'s parameters() hold no array shaped like its "
                                  f"{kind} {target.shape}")
    images = prepared.public["int8.x"].astype(np.float64)
    error = float(np.linalg.norm(layer_mlp_forward(rebuilt, images) - outputs) / np.linalg.norm(outputs))
    if not error <= INT8_REBUILD_TOLERANCE:
        raise EvidenceProblem(f"the quantized layers' parameters() do not reproduce the quantized model's "
                              f"own outputs (relative error {error:.3g}): the bytes they hold are not its "
                              "weights")
    arrays = [array for layer in layers for array in held[layer]]
    float_values = sum(v.size for v in trained.values())
    note = f"{helper('sizes').held_bytes(arrays):,} bytes held for {float_values:,} float values"
    return {"int8_size_ratio": Measured(helper("sizes").size_ratio(arrays, float_values), note)}


KITS["compression"] = Kit("compression", COMPRESSION_METRICS, prepare_compression, score_compression)
