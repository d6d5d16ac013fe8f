"""Autograd engine: accumulation, no_grad, deep graphs, shared inputs, error messages."""

from __future__ import annotations

import numpy as np
import pytest

from tinytorch.core.autograd import enable_autograd, is_grad_enabled, no_grad
from tinytorch.core.tensor import Tensor


def test_gradients_accumulate_across_backward_calls():
    x = Tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad, [2 + 3, 4 + 3])


def test_shared_input_gets_the_sum_of_all_paths():
    x = Tensor([3.0], requires_grad=True)
    y = x * x + x * 2 + x  # dy/dx = 2x + 3
    y.backward(np.ones(1))
    np.testing.assert_allclose(x.grad, [9.0])


def test_same_tensor_as_both_operands():
    x = Tensor([2.0, -1.0], requires_grad=True)
    (x + x).sum().backward()
    np.testing.assert_allclose(x.grad, [2.0, 2.0])


def test_leaf_grads_are_independent_arrays():
    a = Tensor([1.0], requires_grad=True)
    b = Tensor([1.0], requires_grad=True)
    (a + b).sum().backward()
    a.grad *= 10
    assert b.grad.tolist() == [1.0]


def test_deep_graph_does_not_hit_the_recursion_limit():
    x = Tensor([1.0], requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0001
    y.sum().backward()
    np.testing.assert_allclose(x.grad, [1.0001**5000], rtol=1e-3)


def test_no_grad_records_nothing_and_restores_state():
    x = Tensor([1.0], requires_grad=True)
    with no_grad():
        assert not is_grad_enabled()
        y = x * 2
    assert is_grad_enabled()
    assert not y.requires_grad and y._parents == ()
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()


def test_no_grad_as_decorator_and_after_exception():
    @no_grad()
    def double(t):
        return t * 2

    assert not double(Tensor([1.0], requires_grad=True)).requires_grad
    with pytest.raises(KeyError), no_grad():
        raise KeyError("boom")
    assert is_grad_enabled()


def test_enable_autograd_is_a_harmless_no_op():
    enable_autograd()
    x = Tensor([2.0], requires_grad=True)
    (x * x).sum().backward()
    assert x.grad.tolist() == [4.0]


def test_backward_on_non_scalar_needs_grad_argument():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"scalar output, got shape \(2,\)"):
        (x * 2).backward()
    (x * 2).backward(np.array([1.0, 10.0]))
    np.testing.assert_allclose(x.grad, [2.0, 20.0])
    with pytest.raises(ValueError, match=r"\(3,\) != tensor shape \(2,\)"):
        (x * 2).backward(np.ones(3))


def test_inputs_without_requires_grad_get_no_grad():
    x = Tensor([1.0], requires_grad=True)
    c = Tensor([5.0])
    (x * c).sum().backward()
    assert c.grad is None and x.grad.tolist() == [5.0]


def test_intermediate_grads_only_when_retained():
    x = Tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    h.retain_grad()
    other = x * 2
    (h * other).sum().backward()
    np.testing.assert_allclose(h.grad, [2.0, 4.0])
    assert other.grad is None


def test_custom_op_through_from_op_and_bad_gradient_shape():
    x = Tensor([1.0, 2.0], requires_grad=True)
    ok = Tensor._from_op(x.data * 4, (x,), lambda g: (g * 4,), "times4")
    ok.sum().backward()
    assert x.grad.tolist() == [4.0, 4.0]
    bad = Tensor._from_op(x.data.sum(), (x,), lambda g: (g,), "bad_sum")
    with pytest.raises(RuntimeError, match=r"bad_sum.*shape \(\).*shape \(2,\).*unbroadcast"):
        bad.backward()


def test_grads_are_float32_even_if_an_op_returns_float64():
    x = Tensor([1.0], requires_grad=True)
    y = Tensor._from_op(x.data * 2, (x,), lambda g: (g.astype(np.float64) * 2,), "f64")
    y.sum().backward()
    assert x.grad.dtype == np.float32
