"""tiled/vectorized matmul, fused GELU (values and finite-difference gradients), im2col."""

import numpy as np
import pytest

from tests.tinytorch.gradcheck import gradcheck
from tinytorch.core.activations import gelu
from tinytorch.core.tensor import Tensor
from tinytorch.perf.acceleration import fused_gelu, im2col, tiled_matmul, vectorized_matmul


@pytest.mark.parametrize("m,k,n,tile", [(70, 130, 65, 32), (5, 3, 4, 64), (64, 64, 64, 16), (1, 9, 1, 2)])
def test_tiled_matmul_equals_matmul(m, k, n, tile):
    rng = np.random.default_rng(m)
    a, b = rng.normal(size=(m, k)).astype(np.float32), rng.normal(size=(k, n)).astype(np.float32)
    np.testing.assert_allclose(tiled_matmul(a, b, tile).data, a @ b, rtol=1e-5, atol=1e-4)


def test_matmul_shape_errors_name_both_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\) @ \(4, 5\)"):
        tiled_matmul(np.ones((2, 3)), np.ones((4, 5)))
    with pytest.raises(ValueError, match=r"\(2, 3\) @ \(4, 5\)"):
        vectorized_matmul(np.ones((2, 3)), np.ones((4, 5)))
    with pytest.raises(ValueError, match="tile"):
        tiled_matmul(np.ones((2, 3)), np.ones((3, 5)), tile=0)


def test_vectorized_matmul_batched_and_differentiable():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(2, 3, 4)), rng.normal(size=(4, 5))
    np.testing.assert_allclose(vectorized_matmul(a, b).data, a @ b, rtol=1e-5)
    gradcheck(lambda x, y: vectorized_matmul(x, y), [a, b])


def test_fused_gelu_matches_unfused_gelu_and_reference_values():
    x = np.linspace(-6, 6, 101).astype(np.float32)
    np.testing.assert_allclose(fused_gelu(Tensor(x)).data, gelu(Tensor(x)).data, rtol=1e-6, atol=1e-6)
    # GELU(1) ~= 0.8412 (tanh form), GELU(-1) ~= -0.1588, GELU(0) = 0
    expected = [0.841192, -0.158808, 0.0]
    np.testing.assert_allclose(fused_gelu(Tensor([1.0, -1.0, 0.0])).data, expected, atol=1e-5)


def test_fused_gelu_gradient_and_single_graph_node():
    x = np.random.default_rng(2).normal(scale=2.0, size=(4, 5))
    gradcheck(fused_gelu, [x], eps=1e-3)
    out = fused_gelu(Tensor(x, requires_grad=True))
    assert out._op == "fused_gelu" and len(out._parents) == 1


@pytest.mark.parametrize("stride,padding", [(1, 0), (2, 1), (1, 2)])
def test_im2col_gemm_equals_direct_convolution(stride, padding):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 3, 7, 6)).astype(np.float32)
    w = rng.normal(size=(4, 3, 3, 2)).astype(np.float32)
    cols, (h_out, w_out) = im2col(x, (3, 2), stride, padding)
    conv = (cols @ w.reshape(4, -1).T).reshape(2, h_out, w_out, 4).transpose(0, 3, 1, 2)
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    direct = np.zeros_like(conv)
    for i in range(h_out):
        for j in range(w_out):
            patch = xp[:, :, i * stride : i * stride + 3, j * stride : j * stride + 2]
            direct[:, :, i, j] = np.einsum("nchw,ochw->no", patch, w)
    assert (h_out, w_out) == ((7 + 2 * padding - 3) // stride + 1, (6 + 2 * padding - 2) // stride + 1)
    np.testing.assert_allclose(conv, direct, rtol=1e-5, atol=1e-5)


def test_im2col_rejects_bad_input():
    with pytest.raises(ValueError, match="NCHW"):
        im2col(np.ones((3, 4, 4)), 3)
    with pytest.raises(ValueError, match="larger than padded input"):
        im2col(np.ones((1, 1, 2, 2)), 3)
