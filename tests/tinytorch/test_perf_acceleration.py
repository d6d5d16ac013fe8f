"""tiled/vectorized matmul and the fused (tanh) GELU: values and finite-difference gradients."""

import math

import numpy as np
import pytest

from tests.tinytorch.gradcheck import gradcheck
from tinytorch.core.tensor import Tensor
from tinytorch.perf import acceleration
from tinytorch.perf.acceleration import fused_gelu, tiled_matmul, vectorized_matmul


@pytest.mark.parametrize("shape_a,shape_b,tile", [((70, 130), (130, 65), 32), ((5, 3), (3, 4), 64),
                                                  ((64, 64), (64, 64), 16), ((3, 7, 9), (9, 5), 4),
                                                  ((2, 1, 5, 6), (3, 6, 2), 2)])
def test_tiled_matmul_equals_matmul(shape_a, shape_b, tile):
    rng = np.random.default_rng(len(shape_a) + tile)
    a, b = rng.normal(size=shape_a).astype(np.float32), rng.normal(size=shape_b).astype(np.float32)
    out = tiled_matmul(Tensor(a), Tensor(b), tile_size=tile)
    np.testing.assert_allclose(out.data, a @ b, rtol=1e-5, atol=1e-4)
    assert not out.requires_grad


def test_matmul_shape_errors_name_both_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\) @ \(4, 5\)"):
        tiled_matmul(np.ones((2, 3)), np.ones((4, 5)))
    with pytest.raises(ValueError, match=r"\(2, 3\) @ \(4, 5\)"):
        vectorized_matmul(np.ones((2, 3)), np.ones((4, 5)))
    with pytest.raises(ValueError, match="2D"):
        vectorized_matmul(np.ones(3), np.ones((3, 2)))
    with pytest.raises(ValueError, match="tile_size"):
        tiled_matmul(np.ones((2, 3)), np.ones((3, 5)), tile_size=0)
    assert (acceleration.DEFAULT_WARMUP_ITERATIONS, acceleration.DEFAULT_TIMING_ITERATIONS) == (2, 5)


def test_vectorized_matmul_batched_and_differentiable():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(2, 3, 4)), rng.normal(size=(4, 5))
    np.testing.assert_allclose(vectorized_matmul(Tensor(a), Tensor(b)).data, a @ b, rtol=1e-5)
    gradcheck(lambda x, y: vectorized_matmul(x, y), [a, b])


def test_fused_gelu_is_the_tanh_approximation():
    x = np.linspace(-6, 6, 101)
    expected = 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
    np.testing.assert_allclose(fused_gelu(Tensor(x)).data, expected, rtol=1e-5, atol=1e-6)
    known = fused_gelu(Tensor([1.0, -1.0, 0.0])).data
    np.testing.assert_allclose(known, [0.841192, -0.158808, 0.0], atol=1e-5)


def test_fused_gelu_gradient_and_single_graph_node():
    x = np.random.default_rng(2).normal(scale=2.0, size=(4, 5))
    gradcheck(fused_gelu, [x], eps=1e-3)
    leaf = Tensor(x, requires_grad=True)
    out = fused_gelu(leaf)
    assert out._grad_fn.name == "fused_gelu" and out._grad_fn.saved_tensors == (leaf,)
