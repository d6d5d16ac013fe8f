"""The finite-difference checker itself: it passes correct ops and catches wrong ones."""

from __future__ import annotations

import numpy as np
import pytest

from tests.tinytorch.gradcheck import gradcheck, numeric_grad
from tinytorch.core.tensor import Tensor

X = np.random.default_rng(0).normal(size=(3, 2))


def test_numeric_grad_matches_a_known_derivative():
    projection = np.ones((3, 2))
    grad = numeric_grad(lambda a: a * a * a, [X], projection, 0, eps=1e-2)
    np.testing.assert_allclose(grad, 3 * X**2, rtol=1e-3, atol=1e-3)


def test_wrong_gradient_is_reported_with_location_and_values():
    wrong = lambda a: Tensor._from_op(a.data * 2, (a,), lambda g: (g * 2.1,), "almost_double")  # noqa: E731
    with pytest.raises(AssertionError, match=r"input 0 \(shape \(3, 2\)\) element .*analytic .* vs numeric"):
        gradcheck(wrong, [X])


def test_missing_gradient_is_reported():
    detached = lambda a: Tensor._from_op(a.data * 2, (a,), lambda g: (None,), "no_grad_op")  # noqa: E731
    with pytest.raises(AssertionError, match="input 0 got no gradient"):
        gradcheck(detached, [X])


def test_non_tensor_output_is_a_type_error():
    with pytest.raises(TypeError, match="must return a Tensor"):
        gradcheck(lambda a: a.data, [X])


def test_check_selects_inputs():
    half_wrong = lambda a, b: Tensor._from_op(  # noqa: E731
        a.data * b.data, (a, b), lambda g: (g * b.data, g * 0), "bad_b"
    )
    gradcheck(half_wrong, [X, X + 1], check=[0])
    with pytest.raises(AssertionError, match="input 1"):
        gradcheck(half_wrong, [X, X + 1])
