"""Oracle: model layers against PyTorch on copied weights, forward and backward.

torch is required in CI (require_torch fails there when it is missing) and skipped only locally.
"""

import numpy as np
import pytest

from tests.tinytorch.conftest import require_torch
from tinytorch.core.attention import MultiHeadAttention, scaled_dot_product_attention
from tinytorch.core.embeddings import Embedding
from tinytorch.core.spatial import AvgPool2d, BatchNorm2d, Conv2d, MaxPool2d
from tinytorch.core.tensor import Tensor
from tinytorch.core.transformer import LayerNorm, create_causal_mask

torch = require_torch()
torch.set_num_threads(1)

TOL = dict(rtol=1e-4, atol=1e-5)


def as_torch(a, grad=True):
    return torch.tensor(np.asarray(a, dtype=np.float32), requires_grad=grad)


def run_ours(layer, x, upstream):
    """Forward + backward through a tinytorch layer; returns (output, x grad)."""
    xt = Tensor(x, requires_grad=True)
    out = layer(xt)
    out.backward(upstream)
    return out.data, xt.grad


def run_torch(module, x, upstream):
    xt = as_torch(x)
    out = module(xt)
    out.backward(torch.tensor(upstream))
    return out.detach().numpy(), xt.grad.numpy()


def random(shape, seed):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


@pytest.mark.parametrize("stride,padding", [(1, 0), (2, 1), (2, 2)])
def test_conv2d_matches_torch(stride, padding):
    ours = Conv2d(3, 5, 3, stride=stride, padding=padding)
    theirs = torch.nn.Conv2d(3, 5, 3, stride=stride, padding=padding)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.weight.data))
        theirs.bias.copy_(torch.tensor(ours.bias.data))
    x = random((4, 3, 11, 9), 0)
    upstream = random(ours(Tensor(x)).shape, 1)
    out, gx = run_ours(ours, x, upstream)
    t_out, t_gx = run_torch(theirs, x, upstream)
    np.testing.assert_allclose(out, t_out, **TOL)
    np.testing.assert_allclose(gx, t_gx, **TOL)
    np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ours.bias.grad, theirs.bias.grad.numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("kernel,stride,padding", [(2, None, 0), (3, 2, 1), (3, 1, 0)])
def test_pools_match_torch(kernel, stride, padding):
    x = random((2, 3, 9, 8), 2)
    for ours, theirs in ((MaxPool2d(kernel, stride, padding), torch.nn.MaxPool2d(kernel, stride, padding)),
                         (AvgPool2d(kernel, stride, padding), torch.nn.AvgPool2d(kernel, stride, padding))):
        upstream = random(ours(Tensor(x)).shape, 3)
        out, gx = run_ours(ours, x, upstream)
        t_out, t_gx = run_torch(theirs, x, upstream)
        np.testing.assert_allclose(out, t_out, **TOL)
        np.testing.assert_allclose(gx, t_gx, **TOL)


def test_batchnorm2d_matches_torch_in_train_and_eval():
    """Same outputs and gradients; the running variance is the course's (biased batch variance)."""
    ours, theirs = BatchNorm2d(4, momentum=0.2), torch.nn.BatchNorm2d(4, momentum=0.2)
    expected_var = np.ones(4)
    gamma, beta = random(4, 4), random(4, 5)
    ours.gamma.data[:], ours.beta.data[:] = gamma, beta
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(gamma))
        theirs.bias.copy_(torch.tensor(beta))
    for step in range(2):
        x = random((6, 4, 5, 5), 6 + step) * 2 + 1
        upstream = random(x.shape, 8 + step)
        out, gx = run_ours(ours, x, upstream)
        t_out, t_gx = run_torch(theirs, x, upstream)
        np.testing.assert_allclose(out, t_out, **TOL)
        np.testing.assert_allclose(gx, t_gx, rtol=1e-4, atol=1e-4)
        expected_var = 0.8 * expected_var + 0.2 * x.astype(np.float64).var(axis=(0, 2, 3))
    np.testing.assert_allclose(ours.gamma.grad, theirs.weight.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ours.beta.grad, theirs.bias.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ours.running_mean, theirs.running_mean.numpy(), **TOL)
    np.testing.assert_allclose(ours.running_var, expected_var, **TOL)
    with torch.no_grad():
        theirs.running_var.copy_(torch.tensor(ours.running_var))
    ours.eval()
    theirs.eval()
    x = random((3, 4, 2, 2), 10)
    upstream = random(x.shape, 11)
    out, gx = run_ours(ours, x, upstream)
    t_out, t_gx = run_torch(theirs, x, upstream)
    np.testing.assert_allclose(out, t_out, **TOL)
    np.testing.assert_allclose(gx, t_gx, **TOL)


def test_layernorm_matches_torch():
    ours, theirs = LayerNorm(16), torch.nn.LayerNorm(16)
    ours.gamma.data[:], ours.beta.data[:] = random(16, 12), random(16, 13)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.gamma.data))
        theirs.bias.copy_(torch.tensor(ours.beta.data))
    x = random((3, 7, 16), 14) * 3
    upstream = random(x.shape, 15)
    out, gx = run_ours(ours, x, upstream)
    t_out, t_gx = run_torch(theirs, x, upstream)
    np.testing.assert_allclose(out, t_out, **TOL)
    np.testing.assert_allclose(gx, t_gx, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ours.gamma.grad, theirs.weight.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ours.beta.grad, theirs.bias.grad.numpy(), rtol=1e-4, atol=1e-4)


def test_embedding_matches_torch():
    ours = Embedding(9, 4)
    theirs = torch.nn.Embedding(9, 4)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.weight.data))
    ids = np.array([[1, 8, 1], [0, 1, 3]])
    upstream = random((2, 3, 4), 16)
    out = ours(ids)
    out.backward(upstream)
    t_out = theirs(torch.tensor(ids))
    t_out.backward(torch.tensor(upstream))
    np.testing.assert_array_equal(out.data, t_out.detach().numpy())
    np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad.numpy(), **TOL)


def test_scaled_dot_product_attention_matches_torch():
    q, k, v = random((2, 3, 5, 4), 17), random((2, 3, 5, 4), 18), random((2, 3, 5, 6), 19)
    upstream = random((2, 3, 5, 6), 20)
    tensors = [Tensor(a, requires_grad=True) for a in (q, k, v)]
    out, _ = scaled_dot_product_attention(*tensors, mask=create_causal_mask(5))
    out.backward(upstream)
    t_tensors = [as_torch(a) for a in (q, k, v)]
    t_out = torch.nn.functional.scaled_dot_product_attention(*t_tensors, is_causal=True)
    t_out.backward(torch.tensor(upstream))
    np.testing.assert_allclose(out.data, t_out.detach().numpy(), **TOL)
    for ours, theirs in zip(tensors, t_tensors, strict=True):
        np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), **TOL)


def test_multi_head_attention_matches_torch():
    ours = MultiHeadAttention(8, 2)
    theirs = torch.nn.MultiheadAttention(8, 2, batch_first=True)
    projections = (ours.q_proj, ours.k_proj, ours.v_proj)
    with torch.no_grad():  # torch stores (out, in); ours (in, out)
        theirs.in_proj_weight.copy_(torch.tensor(np.concatenate([p.weight.data.T for p in projections])))
        theirs.in_proj_bias.copy_(torch.tensor(np.concatenate([p.bias.data for p in projections])))
        theirs.out_proj.weight.copy_(torch.tensor(ours.out_proj.weight.data.T))
        theirs.out_proj.bias.copy_(torch.tensor(ours.out_proj.bias.data))
    x = random((3, 6, 8), 21)
    upstream = random(x.shape, 22)
    xt = Tensor(x, requires_grad=True)
    out = ours(xt, mask=create_causal_mask(6))
    out.backward(upstream)
    t_x = as_torch(x)
    blocked = torch.triu(torch.ones(6, 6, dtype=torch.bool), diagonal=1)  # torch: True = blocked
    t_out, _ = theirs(t_x, t_x, t_x, attn_mask=blocked, need_weights=False)
    t_out.backward(torch.tensor(upstream))
    np.testing.assert_allclose(out.data, t_out.detach().numpy(), **TOL)
    np.testing.assert_allclose(xt.grad, t_x.grad.numpy(), rtol=1e-4, atol=1e-4)
    in_grad = np.concatenate([p.weight.grad.T for p in projections])
    np.testing.assert_allclose(in_grad, theirs.in_proj_weight.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ours.out_proj.weight.grad.T, theirs.out_proj.weight.grad.numpy(),
                               rtol=1e-4, atol=1e-4)
