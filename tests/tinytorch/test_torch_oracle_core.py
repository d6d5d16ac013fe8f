"""Oracle: forward and backward of core layers, activations, losses and optimizers match PyTorch.

Skipped locally when torch is missing; in CI (CI=true) a missing torch fails (see conftest).
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

from tests.tinytorch.conftest import require_torch
from tinytorch.core.activations import GELU, ReLU, Sigmoid, Softmax, Tanh
from tinytorch.core.layers import Linear
from tinytorch.core.losses import BinaryCrossEntropyLoss, CrossEntropyLoss, MSELoss, log_softmax
from tinytorch.core.optimizers import SGD, Adam, AdamW
from tinytorch.core.tensor import Tensor

pytestmark = pytest.mark.torch
R = np.random.default_rng(123)
TOL = {"rtol": 1e-5, "atol": 1e-6}


@pytest.fixture(scope="module")
def torch():
    return require_torch()


def test_linear_forward_backward(torch):
    layer = Linear(5, 3)
    x = R.normal(size=(4, 5)).astype(np.float32)
    upstream = R.normal(size=(4, 3)).astype(np.float32)
    xt = Tensor(x, requires_grad=True)
    out = layer(xt)
    out.backward(upstream)

    ref = torch.nn.Linear(5, 3)
    with torch.no_grad():
        ref.weight.copy_(torch.from_numpy(layer.weight.data.T.copy()))  # torch stores (out, in)
        ref.bias.copy_(torch.from_numpy(layer.bias.data))
    xr = torch.from_numpy(x).requires_grad_()
    out_ref = ref(xr)
    out_ref.backward(torch.from_numpy(upstream))
    np.testing.assert_allclose(out.data, out_ref.detach().numpy(), **TOL)
    np.testing.assert_allclose(xt.grad, xr.grad.numpy(), **TOL)
    np.testing.assert_allclose(layer.weight.grad, ref.weight.grad.numpy().T, **TOL)
    np.testing.assert_allclose(layer.bias.grad, ref.bias.grad.numpy(), **TOL)


@pytest.mark.parametrize(
    "ours,theirs",
    [
        (ReLU, lambda t: t.nn.ReLU()),
        (Sigmoid, lambda t: t.nn.Sigmoid()),
        (Tanh, lambda t: t.nn.Tanh()),
        (GELU, lambda t: lambda z: z * t.sigmoid(1.702 * z)),  # the course's GELU
        (Softmax, lambda t: t.nn.Softmax(dim=-1)),
        (lambda: log_softmax, lambda t: t.nn.LogSoftmax(dim=-1)),
    ],
)
def test_activations_forward_backward(torch, ours, theirs):
    x = (R.normal(size=(3, 7)) * 3).astype(np.float32)
    upstream = R.normal(size=(3, 7)).astype(np.float32)
    xt = Tensor(x, requires_grad=True)
    out = ours()(xt)
    out.backward(upstream)
    xr = torch.from_numpy(x).requires_grad_()
    out_ref = theirs(torch)(xr)
    out_ref.backward(torch.from_numpy(upstream))
    np.testing.assert_allclose(out.data, out_ref.detach().numpy(), **TOL)
    np.testing.assert_allclose(xt.grad, xr.grad.numpy(), **TOL)


@pytest.mark.parametrize("large", [False, True])
def test_cross_entropy(torch, large):
    logits = (R.normal(size=(8, 5)) * (1e4 if large else 2)).astype(np.float32)
    targets = R.integers(0, 5, size=8)
    lt = Tensor(logits, requires_grad=True)
    loss = CrossEntropyLoss()(lt, targets)
    loss.backward()
    lr_ = torch.from_numpy(logits).requires_grad_()
    ref = torch.nn.functional.cross_entropy(lr_, torch.from_numpy(targets))
    ref.backward()
    np.testing.assert_allclose(loss.data, ref.item(), rtol=1e-5)
    np.testing.assert_allclose(lt.grad, lr_.grad.numpy(), **TOL)


def test_mse(torch):
    pred, target = R.normal(size=(6, 2)).astype(np.float32), R.normal(size=(6, 2)).astype(np.float32)
    pt = Tensor(pred, requires_grad=True)
    loss = MSELoss()(pt, target)
    loss.backward()
    pr = torch.from_numpy(pred).requires_grad_()
    ref = torch.nn.functional.mse_loss(pr, torch.from_numpy(target))
    ref.backward()
    np.testing.assert_allclose(loss.data, ref.item(), rtol=1e-5)
    np.testing.assert_allclose(pt.grad, pr.grad.numpy(), **TOL)


def test_bce(torch):
    probs = R.uniform(0.05, 0.95, size=(6, 1)).astype(np.float32)
    target = R.integers(0, 2, size=(6, 1)).astype(np.float32)
    pt = Tensor(probs, requires_grad=True)
    loss = BinaryCrossEntropyLoss()(pt, target)
    loss.backward()
    pr = torch.from_numpy(probs).requires_grad_()
    ref = torch.nn.functional.binary_cross_entropy(pr, torch.from_numpy(target))
    ref.backward()
    np.testing.assert_allclose(loss.data, ref.item(), rtol=1e-5)
    np.testing.assert_allclose(pt.grad, pr.grad.numpy(), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize(
    "ours,theirs,kwargs",
    [
        (SGD, "SGD", {"lr": 0.1}),
        (SGD, "SGD", {"lr": 0.05, "momentum": 0.9, "weight_decay": 0.01}),
        (Adam, "Adam", {"lr": 0.01}),
        (Adam, "Adam", {"lr": 0.01, "weight_decay": 0.1}),
        (AdamW, "AdamW", {"lr": 0.01, "weight_decay": 0.1}),
        (AdamW, "AdamW", {"lr": 0.01}),
    ],
)
def test_optimizer_trajectories(torch, ours, theirs, kwargs):
    """The course's AdamW decays AFTER the Adam update: torch's Adam step, then p *= 1 - lr * wd."""
    start = R.normal(size=(4, 3)).astype(np.float32)
    grads = [R.normal(size=(4, 3)).astype(np.float32) for _ in range(5)]
    p = Tensor(start, requires_grad=True)
    opt = ours([p], **kwargs)
    pr = torch.nn.Parameter(torch.from_numpy(start.copy()))
    decay = 1 - kwargs["lr"] * kwargs.get("weight_decay", 0.01) if theirs == "AdamW" else 1.0
    torch_kwargs = {k: v for k, v in kwargs.items() if theirs != "AdamW" or k != "weight_decay"}
    opt_ref = getattr(torch.optim, "Adam" if theirs == "AdamW" else theirs)([pr], **torch_kwargs)
    for g in grads:
        p.grad = g.copy()
        opt.step()
        pr.grad = torch.from_numpy(g.copy())
        opt_ref.step()
        with torch.no_grad():
            pr.mul_(decay)
        np.testing.assert_allclose(p.data, pr.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_require_torch_fails_in_ci_and_skips_locally(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` raise
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="required in CI"):
        require_torch()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        require_torch()
