"""Tensor ops: forward values, finite-difference gradients, dtype and error messages."""

from __future__ import annotations

import numpy as np
import pytest

from tests.tinytorch.gradcheck import gradcheck
from tinytorch.core.tensor import Tensor, concatenate, matmul, stack, unbroadcast

R = np.random.default_rng(42)


def rand(*shape, low=None):
    x = R.normal(size=shape)
    return np.abs(x) + low if low is not None else x


def test_construction_is_float32_and_copies_input():
    source = np.arange(6, dtype=np.int64).reshape(2, 3)
    t = Tensor(source)
    assert t.dtype == np.float32 and t.shape == (2, 3) and t.size == 6 and t.ndim == 2
    f32 = np.ones(3, dtype=np.float32)
    Tensor(f32).data[0] = 5
    assert f32[0] == 1
    assert Tensor(3).shape == () and Tensor([[1, 2]]).data.tolist() == [[1.0, 2.0]]


@pytest.mark.parametrize(
    "op,expected",
    [
        (lambda a, b: a + b, [[11, 22], [13, 24]]),
        (lambda a, b: a - b, [[-9, -18], [-7, -16]]),
        (lambda a, b: a * b, [[10, 40], [30, 80]]),
        (lambda a, b: b / a, [[10, 10], [10 / 3, 5]]),
    ],
)
def test_broadcast_arithmetic_values(op, expected):
    a = Tensor([[1, 2], [3, 4]])
    b = Tensor([10, 20])
    out = op(a, b)
    np.testing.assert_allclose(out.data, expected, rtol=1e-6)
    assert out.dtype == np.float32


def test_assigning_data_keeps_float32():
    p = Tensor([1.0, 2.0], requires_grad=True)
    p.data = p.data - np.float64(0.1) * np.ones(2)  # a float64 update must not leak into the model
    assert p.dtype == np.float32
    np.testing.assert_allclose(p.data, [0.9, 1.9], rtol=1e-6)
    p.data = Tensor([5.0, 6.0])
    assert p.data.tolist() == [5.0, 6.0] and p.dtype == np.float32


def test_scalar_and_reflected_ops_keep_float32():
    a = Tensor([1.0, 2.0])
    for out in (
        a + 1,
        1 + a,
        a - 1,
        1 - a,
        a * 2.5,
        2.5 * a,
        a / 2,
        2 / a,
        -a,
        a**2,
        2**a,
        np.float64(3.0) * a,
        a * np.float64(3.0),
    ):
        assert out.dtype == np.float32
    np.testing.assert_allclose((1 - a).data, [0, -1])
    np.testing.assert_allclose((2 / a).data, [2, 1])
    np.testing.assert_allclose((2**a).data, [2, 4])
    np.testing.assert_allclose((a**3).data, [1, 8])


@pytest.mark.parametrize(
    "op",
    [
        lambda a, b: a + b,
        lambda a, b: a - b,
        lambda a, b: a * b,
        lambda a, b: a / b,
        lambda a, b: b - a,
        lambda a, b: b / a,
    ],
)
@pytest.mark.parametrize(
    "shapes", [((3, 4), (3, 4)), ((2, 3, 4), (4,)), ((3, 1), (1, 4)), ((2, 1, 4), (3, 1))]
)
def test_elementwise_gradients_with_broadcasting(op, shapes):
    gradcheck(op, [rand(*shapes[0], low=0.5), rand(*shapes[1], low=0.5)])


@pytest.mark.parametrize(
    "fn,low",
    [
        (lambda a: a.exp(), None),
        (lambda a: a.log(), 0.2),
        (lambda a: a.sqrt(), 0.2),
        (lambda a: a**3, None),
        (lambda a: a**0.5, 0.3),
        (lambda a: -a, None),
        (lambda a: a.tanh(), None),
        (lambda a: a.sigmoid(), None),
        (lambda a: a.relu(), 0.05),
        (lambda a: (-a).relu(), 0.05),
        (lambda a: a.abs(), 0.05),
        (lambda a: 2.0**a, None),
    ],
)
def test_unary_gradients(fn, low):
    gradcheck(fn, [rand(3, 4, low=low)])


def test_tensor_exponent_gradient():
    gradcheck(lambda a, b: a**b, [rand(3, low=0.5), rand(3)])


def test_unary_values():
    x = np.array([-2.0, 0.0, 3.0], dtype=np.float32)
    t = Tensor(x)
    np.testing.assert_allclose(t.exp().data, np.exp(x), rtol=1e-6)
    np.testing.assert_allclose(t.relu().data, [0, 0, 3])
    np.testing.assert_allclose(t.sigmoid().data, 1 / (1 + np.exp(-x)), rtol=1e-6)
    np.testing.assert_allclose(t.abs().data, [2, 0, 3])
    np.testing.assert_allclose(Tensor([4.0, 9.0]).sqrt().data, [2, 3])
    np.testing.assert_allclose(t.clip(-1, 1).data, [-1, 0, 1])


def test_sigmoid_is_finite_for_huge_inputs():
    out = Tensor([-1e4, 1e4]).sigmoid().data
    assert np.all(np.isfinite(out)) and out.tolist() == [0.0, 1.0]


@pytest.mark.parametrize(
    "axis,keepdims", [(None, False), (0, False), (1, True), (-1, False), ((0, 2), True), ((0, 2), False)]
)
@pytest.mark.parametrize("reduction", ["sum", "mean", "max"])
def test_reduction_values_and_gradients(reduction, axis, keepdims):
    x = rand(2, 3, 4)
    out = getattr(Tensor(x), reduction)(axis=axis, keepdims=keepdims)
    expected = getattr(np, reduction)(x.astype(np.float32), axis=axis, keepdims=keepdims)
    np.testing.assert_allclose(out.data, expected, rtol=1e-5)
    assert out.shape == expected.shape
    gradcheck(lambda a: getattr(a, reduction)(axis=axis, keepdims=keepdims), [x])


def test_max_splits_gradient_between_ties():
    x = Tensor([[1.0, 3.0, 3.0], [2.0, 0.0, 1.0]], requires_grad=True)
    x.max(axis=1).sum().backward()
    np.testing.assert_allclose(x.grad, [[0, 0.5, 0.5], [1, 0, 0]])


@pytest.mark.parametrize(
    "shape_a,shape_b",
    [
        ((3, 4), (4, 5)),
        ((2, 3, 4), (2, 4, 5)),
        ((2, 3, 4), (4, 5)),
        ((4,), (4, 5)),
        ((3, 4), (4,)),
        ((4,), (4,)),
        ((2, 1, 3, 4), (5, 4, 2)),
        ((3, 4), (2, 4, 5)),
    ],
)
def test_matmul_values_and_gradients(shape_a, shape_b):
    a, b = rand(*shape_a), rand(*shape_b)
    np.testing.assert_allclose((Tensor(a) @ Tensor(b)).data, np.matmul(a, b), rtol=1e-4, atol=1e-5)
    gradcheck(lambda x, y: x @ y, [a, b])
    gradcheck(lambda x, y: matmul(x, y), [a, b])


def test_reshape_transpose_permute_values_and_gradients():
    x = rand(2, 3, 4)
    t = Tensor(x)
    assert (
        t.reshape(6, 4).shape == (6, 4) and t.reshape((4, -1)).shape == (4, 6) and t.view(-1).shape == (24,)
    )
    np.testing.assert_array_equal(t.transpose().data, x.astype(np.float32).swapaxes(-1, -2))
    np.testing.assert_array_equal(t.transpose(0, 2).data, x.astype(np.float32).swapaxes(0, 2))
    np.testing.assert_array_equal(t.permute(2, 0, 1).data, x.astype(np.float32).transpose(2, 0, 1))
    np.testing.assert_array_equal(Tensor(x[0]).T.data, x[0].astype(np.float32).T)
    assert t.flatten(1).shape == (2, 12)
    gradcheck(lambda a: a.reshape(4, 6) @ Tensor(np.arange(6.0)), [x])
    gradcheck(lambda a: a.transpose(0, 1) * Tensor(np.arange(4.0)), [x])
    gradcheck(lambda a: a.permute(2, 0, 1) * Tensor(np.arange(3.0)), [x])
    gradcheck(lambda a: a.T @ Tensor(np.ones((3, 2))), [x[0]])


def test_transpose_follows_the_course_defaults():
    v = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    assert v.transpose().data.tolist() == [1.0, 2.0, 3.0]  # 0-D/1-D: unchanged, as the course
    v.transpose().sum().backward()
    assert v.grad.tolist() == [1.0, 1.0, 1.0]
    with pytest.raises(ValueError, match="both dim0 and dim1"):
        Tensor(np.ones((2, 3))).transpose(0)


def test_course_repr_constants_and_zero_d_matmul():
    import tinytorch.core.tensor as tensor_module

    t = Tensor([1.0, 2.0], requires_grad=True)
    assert repr(t) == "Tensor(data=[1. 2.], shape=(2,), requires_grad=True)"
    assert str(Tensor([1.0])) == "Tensor([1.])"
    constants = (tensor_module.BYTES_PER_FLOAT32, tensor_module.KB_TO_BYTES, tensor_module.MB_TO_BYTES)
    assert constants == (4, 1024, 2**20)
    assert (Tensor(3.0) @ Tensor([1.0, 2.0])).data.tolist() == [3.0, 6.0]  # a 0-D operand multiplies


@pytest.mark.parametrize(
    "key",
    [
        1,
        -1,
        slice(1, None),
        (slice(None), 2),
        (0, slice(None, None, 2), 1),
        (Ellipsis, 0),
        np.array([0, 2, 2, 0]),
        (np.array([0, 1, 1]), np.array([3, 3, 0])),
        np.array([True, False, True]),
        (slice(None), np.array([[0, 1], [1, 1]])),
    ],
)
def test_getitem_values_and_gradients(key):
    x = rand(3, 4, 5)
    np.testing.assert_array_equal(Tensor(x)[key].data, x.astype(np.float32)[key])
    gradcheck(lambda a: a[key], [x])


def test_getitem_with_tensor_index_accumulates_repeats():
    x = Tensor(np.zeros((3, 2)), requires_grad=True)
    idx = Tensor([2, 0, 2, 2])
    x[idx].sum().backward()
    np.testing.assert_array_equal(x.grad, [[1, 1], [0, 0], [3, 3]])


def test_getitem_rejects_fractional_index():
    with pytest.raises(IndexError, match="integers or booleans"):
        Tensor(np.zeros(4))[np.array([0.5])]


def test_masked_fill_values_and_gradient():
    x = rand(2, 3, 3)
    mask = np.triu(np.ones((3, 3), dtype=bool), k=1)
    out = Tensor(x).masked_fill(mask, -1e9)
    assert np.all(out.data[:, mask] == np.float32(-1e9))
    np.testing.assert_array_equal(out.data[:, ~mask], x.astype(np.float32)[:, ~mask])
    gradcheck(lambda a: a.masked_fill(Tensor(mask), 0.0), [x])


def test_concatenate_and_stack_values_and_gradients():
    a, b, c = rand(2, 3), rand(4, 3), rand(2, 3)
    np.testing.assert_allclose(
        concatenate([Tensor(a), Tensor(b)], axis=0).data, np.concatenate([a, b]), rtol=1e-6
    )
    np.testing.assert_allclose(
        stack([Tensor(a), Tensor(c)], axis=1).data, np.stack([a, c], axis=1), rtol=1e-6
    )
    gradcheck(lambda x, y: concatenate([x, y], axis=0), [a, b])
    gradcheck(lambda x, y: concatenate([x, y], axis=1), [a, c])
    gradcheck(lambda x, y: stack([x, y, x], axis=-1), [a, c])


def test_unbroadcast_sums_added_and_stretched_axes():
    g = np.ones((2, 3, 4), dtype=np.float32)
    assert unbroadcast(g, (4,)).tolist() == [6.0] * 4
    assert unbroadcast(g, (3, 1)).tolist() == [[8.0]] * 3
    assert unbroadcast(g, (1, 1, 1)).tolist() == [[[24.0]]]
    assert unbroadcast(g, ()).shape == ()


def test_comparisons_return_no_grad_float_tensors():
    a = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    for out, expected in [(a > 2, [0, 0, 1]), (a >= 2, [0, 1, 1]), (a < 2, [1, 0, 0]), (a <= 2, [1, 1, 0])]:
        assert out.data.tolist() == expected and not out.requires_grad
    assert a.argmax() == 2


def test_equality_and_truth_are_identity_as_in_the_course():
    a, b = Tensor([1.0, 2.0]), Tensor([1.0, 2.0])
    assert a == a and a != b and (a in [a]) and (b not in [a])
    assert bool(Tensor(0.0)) and bool(Tensor(np.zeros((0,))))  # no __len__/__bool__: always truthy
    assert len({a, b}) == 2


def test_numpy_interop_and_reflected_ops_with_arrays():
    a = Tensor([1.0, 2.0], requires_grad=True)
    assert np.asarray(a).tolist() == [1.0, 2.0] and np.asarray(a, dtype=np.int64).dtype == np.int64
    out = np.array([3.0, 4.0]) * a  # the ndarray defers to Tensor.__rmul__: graph kept
    assert isinstance(out, Tensor) and out.dtype == np.float32
    out.sum().backward()
    assert a.grad.tolist() == [3.0, 4.0]


def test_detach_numpy_item():
    a = Tensor([[2.0]], requires_grad=True)
    d = (a * 3).detach()
    assert not d.requires_grad and d.item() == 6.0
    assert a.numpy() is a.data
    with pytest.raises(ValueError, match="one element"):
        Tensor([1.0, 2.0]).item()


@pytest.mark.parametrize(
    "op,name",
    [
        (lambda a, b: a + b, "add"),
        (lambda a, b: a - b, "sub"),
        (lambda a, b: a * b, "mul"),
        (lambda a, b: a / b, "div"),
        (lambda a, b: a @ b, "matmul"),
    ],
)
def test_shape_mismatch_messages_name_both_shapes(op, name):
    with pytest.raises(ValueError) as info:
        op(Tensor(np.ones((2, 3))), Tensor(np.ones((4, 5))))
    message = str(info.value)
    assert name in message and "(2, 3)" in message and "(4, 5)" in message


def test_other_shape_errors_are_clear():
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(4, 4\)"):
        Tensor(np.ones((2, 3))).reshape(4, 4)
    with pytest.raises(ValueError, match=r"\[\(2, 3\), \(2, 4\)\]"):
        stack([Tensor(np.ones((2, 3))), Tensor(np.ones((2, 4)))])
    with pytest.raises(ValueError, match=r"incompatible shapes \[\(2, 3\), \(2, 4\)\]"):
        concatenate([Tensor(np.ones((2, 3))), Tensor(np.ones((2, 4)))], axis=0)
    with pytest.raises(ValueError, match=r"mask shape \(3,\).*\(2, 2\)"):
        Tensor(np.ones((2, 2))).masked_fill(np.ones(3, dtype=bool), 0.0)
    with pytest.raises(ValueError, match="out of range"):
        Tensor(np.ones((2, 2))).sum(axis=2)
