"""Losses: values against numpy formulas, gradients, large-logit stability, target validation."""

from __future__ import annotations

import numpy as np
import pytest

from tests.tinytorch.gradcheck import gradcheck
from tinytorch.core.losses import BinaryCrossEntropyLoss, CrossEntropyLoss, MSELoss, log_softmax
from tinytorch.core.tensor import Tensor

R = np.random.default_rng(5)
LOGITS = R.normal(size=(6, 4)) * 2
TARGETS = np.array([0, 3, 1, 1, 2, 0])


def reference_ce(logits, targets):
    z = logits - logits.max(axis=-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    return -np.take_along_axis(logp, targets[..., None], axis=-1).mean()


def test_log_softmax_values_and_gradient():
    expected = LOGITS - np.log(np.exp(LOGITS).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(log_softmax(Tensor(LOGITS)).data, expected, rtol=1e-5, atol=1e-6)
    gradcheck(log_softmax, [LOGITS])
    gradcheck(lambda x: log_softmax(x, dim=0), [LOGITS])


def test_cross_entropy_value_and_gradient():
    loss = CrossEntropyLoss()(Tensor(LOGITS), TARGETS)
    assert loss.shape == () and loss.dtype == np.float32
    np.testing.assert_allclose(loss.data, reference_ce(LOGITS, TARGETS), rtol=1e-5)
    gradcheck(lambda z: CrossEntropyLoss()(z, TARGETS), [LOGITS])


def test_cross_entropy_accepts_float_tensor_targets_and_sequence_logits():
    ce = CrossEntropyLoss()
    same = ce(Tensor(LOGITS), Tensor(TARGETS))  # Tensor targets are float32 ids
    np.testing.assert_allclose(same.data, reference_ce(LOGITS, TARGETS), rtol=1e-5)
    seq_logits, seq_targets = R.normal(size=(2, 3, 5)), R.integers(0, 5, size=(2, 3))
    np.testing.assert_allclose(
        ce(Tensor(seq_logits), seq_targets).data, reference_ce(seq_logits, seq_targets), rtol=1e-5
    )
    gradcheck(lambda z: ce(z, seq_targets), [seq_logits])


def test_cross_entropy_known_value():
    uniform = CrossEntropyLoss()(Tensor(np.zeros((3, 10))), np.array([1, 2, 3]))
    np.testing.assert_allclose(uniform.data, np.log(10), rtol=1e-6)


def test_cross_entropy_is_finite_for_huge_logits():
    logits = Tensor([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0]], requires_grad=True)
    loss = CrossEntropyLoss()(logits, np.array([1, 1]))
    np.testing.assert_allclose(loss.data, 1e4, rtol=1e-6)  # first row wrong by 2e4, second right
    loss.backward()
    assert np.all(np.isfinite(logits.grad))
    np.testing.assert_allclose(logits.grad, [[0.5, -0.5, 0], [0, 0, 0]], atol=1e-6)


@pytest.mark.parametrize(
    "targets,match",
    [
        (np.array([0, 1]), r"targets shape \(2,\).*logits shape \(6, 4\)"),
        (np.eye(4)[TARGETS], "not one-hot"),
        (np.array([0, 1, 2, 3, 4, 0]), r"\[0, 4\).*max 4"),
        (np.array([0, -1, 2, 3, 1, 0]), "min -1"),
        (np.array([0.5, 1, 2, 3, 1, 0]), "integer class ids"),
    ],
)
def test_cross_entropy_rejects_bad_targets(targets, match):
    with pytest.raises(ValueError, match=match):
        CrossEntropyLoss()(Tensor(LOGITS), targets)


def test_mse_value_gradient_and_shapes():
    pred, target = R.normal(size=(5, 3)), R.normal(size=(5, 3))
    loss = MSELoss()(Tensor(pred), Tensor(target))
    np.testing.assert_allclose(loss.data, np.mean((pred - target) ** 2), rtol=1e-5)
    gradcheck(lambda p: MSELoss()(p, target), [pred])
    # (N, 1) against (N,) broadcasts to (N, N), as the course computes it; the gradient is exact.
    column, targets = pred[:, :1], pred[:, 0] + 1
    np.testing.assert_allclose(MSELoss()(Tensor(column), targets).data, np.mean((column - targets) ** 2),
                               rtol=1e-5)
    gradcheck(lambda p: MSELoss()(p, targets), [column])
    with pytest.raises(ValueError, match="broadcast"):
        MSELoss()(Tensor(pred), np.zeros(4))


def test_losses_record_the_course_function_classes_and_accept_keywords():
    p = Tensor(np.full((2, 1), 0.5), requires_grad=True)
    logits = Tensor(LOGITS, requires_grad=True)
    assert type(MSELoss()(predictions=p, targets=np.zeros((2, 1)))._grad_fn).__name__ == "MSEBackward"
    assert type(BinaryCrossEntropyLoss()(p, np.ones((2, 1)))._grad_fn).__name__ == "BCEBackward"
    ce = CrossEntropyLoss()(logits=logits, targets=TARGETS)
    assert type(ce._grad_fn).__name__ == "CrossEntropyBackward"
    assert MSELoss().backward() is None


def test_bce_value_gradient_and_clamping():
    probs = 1 / (1 + np.exp(-R.normal(size=(8, 1))))
    labels = R.integers(0, 2, size=(8, 1)).astype(float)
    loss = BinaryCrossEntropyLoss()(Tensor(probs), labels)
    expected = -np.mean(labels * np.log(probs) + (1 - labels) * np.log(1 - probs))
    np.testing.assert_allclose(loss.data, expected, rtol=1e-5)
    gradcheck(lambda p: BinaryCrossEntropyLoss()(p, labels), [probs], eps=1e-3)


def test_bce_is_finite_for_saturated_probabilities():
    logits = Tensor([[1e4], [-1e4], [1e4]], requires_grad=True)
    probs = logits.sigmoid()
    assert probs.data.ravel().tolist() == [1.0, 0.0, 1.0]
    loss = BinaryCrossEntropyLoss()(probs, np.array([[1.0], [1.0], [0.0]]))
    assert np.isfinite(loss.data) and loss.data > 5  # two confident mistakes cost about -log(1e-7) each
    loss.backward()
    assert np.all(np.isfinite(logits.grad))
