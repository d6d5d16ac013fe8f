"""Autograd engine: the course's Function classes, accumulation, no_grad, deep graphs, errors."""

from __future__ import annotations

import numpy as np
import pytest

from tinytorch.core import autograd
from tinytorch.core.autograd import Function, enable_autograd, is_grad_enabled, no_grad
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
    assert not y.requires_grad and y._grad_fn is None
    assert y.backward() is None and x.grad is None  # as the course: nothing to do


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
    enable_autograd(quiet=True)
    x = Tensor([2.0], requires_grad=True)
    (x * x).sum().backward()
    assert x.grad.tolist() == [4.0]


def test_backward_on_non_scalar_needs_grad_argument():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match=r"non-scalar tensor of shape \(2,\)"):
        (x * 2).backward()
    (x * 2).backward(np.array([1.0, 10.0]))
    np.testing.assert_allclose(x.grad, [2.0, 20.0])
    x.grad = None
    (x * 2).backward(Tensor(np.ones((3, 2))))  # summed over the extra axis, as the course does
    np.testing.assert_allclose(x.grad, [6.0, 6.0])
    with pytest.raises(ValueError, match=r"\(3,\) does not fit the tensor's shape \(2,\)"):
        (x * 2).backward(np.ones(3))


def test_inputs_without_requires_grad_get_no_grad():
    x = Tensor([1.0], requires_grad=True)
    c = Tensor([5.0])
    (x * c).sum().backward()
    assert c.grad is None and x.grad.tolist() == [5.0]


def test_every_tensor_reached_gets_grad_as_in_the_course():
    x = Tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    other = x * 2
    loss = (h * other).sum()
    loss.backward()
    np.testing.assert_allclose(h.grad, [2.0, 4.0])
    np.testing.assert_allclose(other.grad, [3.0, 6.0])
    assert loss.grad.tolist() == 1.0 and x.grad.tolist() == [12.0, 24.0]


@pytest.mark.parametrize("op,name", [
    (lambda a, b: a + b, "AddBackward"), (lambda a, b: a - b, "SubBackward"),
    (lambda a, b: a * b, "MulBackward"), (lambda a, b: a / b, "DivBackward"),
    (lambda a, b: a.matmul(b.reshape(3, 2)), "MatmulBackward"),
    (lambda a, b: a.transpose(), "TransposeBackward"),
    (lambda a, b: a.permute(1, 0), "PermuteBackward"), (lambda a, b: a[0], "SliceBackward"),
    (lambda a, b: a.reshape(3, 2), "ReshapeBackward"), (lambda a, b: a.sum(), "SumBackward"),
])
def test_course_ops_record_the_course_function_classes(op, name):
    a = Tensor(np.arange(6.0).reshape(2, 3) + 1, requires_grad=True)
    b = Tensor(np.ones((2, 3)), requires_grad=True)
    out = op(a, b)
    fn = out._grad_fn
    assert type(fn).__name__ == name and isinstance(fn, Function) and type(fn) is getattr(autograd, name)
    assert fn.saved_tensors[0] is a
    assert (a * b)._grad_fn.next_functions == [] and (out * 2)._grad_fn.next_functions == [fn]


def test_function_base_and_course_classes_standalone():
    with pytest.raises(NotImplementedError):
        Function(Tensor([1.0])).apply(np.ones(1))
    a, b = Tensor([2.0], requires_grad=True), Tensor([4.0], requires_grad=True)
    ga, gb = autograd.DivBackward(a, b).apply(np.ones(1, dtype=np.float32))
    assert ga.tolist() == [0.25] and gb.tolist() == [-0.125]
    (g,) = autograd.TransposeBackward(Tensor(np.zeros((2, 3))), None, None).apply(np.ones((3, 2)))
    assert g.shape == (2, 3)


def test_custom_op_through_from_op_and_bad_gradient_shape():
    x = Tensor([1.0, 2.0], requires_grad=True)
    ok = Tensor._from_op(x.data * 4, (x,), lambda g: (g * 4,), "times4")
    ok.sum().backward()
    assert x.grad.tolist() == [4.0, 4.0]
    bad = Tensor._from_op(x.data.sum(), (x,), lambda g: (g,), "bad_sum")
    with pytest.raises(RuntimeError, match=r"bad_sum.*shape \(\).*shape \(2,\)"):
        bad.backward()
    wrong_count = Tensor._from_op(x.data * 2, (x,), lambda g: (g, g), "two_grads")
    with pytest.raises(RuntimeError, match="returned 2 gradients for 1 inputs"):
        wrong_count.sum().backward()


def test_grads_are_float32_even_if_an_op_returns_float64():
    x = Tensor([1.0], requires_grad=True)
    y = Tensor._from_op(x.data * 2, (x,), lambda g: (g.astype(np.float64) * 2,), "f64")
    y.sum().backward()
    assert x.grad.dtype == np.float32
