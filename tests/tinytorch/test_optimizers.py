"""Optimizer update rules against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tinytorch.core.optimizers import SGD, Adam, AdamW, Optimizer
from tinytorch.core.tensor import Tensor


def param(value, grad):
    p = Tensor(np.array(value, dtype=np.float32), requires_grad=True)
    p.grad = np.array(grad, dtype=np.float32)
    return p


def test_sgd_plain_step():
    p = param([1.0, -2.0], [0.5, 1.0])
    SGD([p], lr=0.1).step()
    np.testing.assert_allclose(p.data, [0.95, -2.1], rtol=1e-6)


def test_sgd_momentum_and_weight_decay():
    p = param([1.0], [0.5])
    opt = SGD([p], lr=0.1, momentum=0.9, weight_decay=0.1)
    opt.step()  # g = 0.5 + 0.1*1 = 0.6; v = 0.6; p = 1 - 0.06 = 0.94
    np.testing.assert_allclose(p.data, [0.94], rtol=1e-6)
    p.grad = np.array([0.5], dtype=np.float32)
    opt.step()  # g = 0.5 + 0.094 = 0.594; v = 0.9*0.6 + 0.594 = 1.134; p = 0.94 - 0.1134
    np.testing.assert_allclose(p.data, [0.94 - 0.1134], rtol=1e-6)


def test_adam_two_steps_by_hand():
    p = param([1.0], [0.2])
    opt = Adam([p], lr=0.01, betas=(0.9, 0.999), eps=1e-8)
    opt.step()  # bias-corrected m/sqrt(v) = g/|g| = 1 on the first step
    np.testing.assert_allclose(p.data, [0.99], rtol=1e-6)
    p.grad = np.array([-0.1], dtype=np.float32)
    opt.step()
    m = 0.9 * 0.02 + 0.1 * -0.1
    v = 0.999 * 0.00004 + 0.001 * 0.01
    expected = 0.99 - 0.01 * (m / (1 - 0.9**2)) / (math.sqrt(v / (1 - 0.999**2)) + 1e-8)
    np.testing.assert_allclose(p.data, [expected], rtol=1e-6)


def test_adam_weight_decay_is_l2_and_adamw_is_decoupled():
    p_adam, p_adamw = param([2.0], [0.0]), param([2.0], [0.0])
    Adam([p_adam], lr=0.1, weight_decay=0.5).step()  # g = 1.0 -> normalised step of lr
    np.testing.assert_allclose(p_adam.data, [1.9], rtol=1e-6)
    AdamW([p_adamw], lr=0.1, weight_decay=0.5).step()  # p *= 1 - 0.05; zero grad -> no Adam move
    np.testing.assert_allclose(p_adamw.data, [1.9], rtol=1e-6)
    q = param([2.0], [1.0])
    AdamW([q], lr=0.1, weight_decay=0.5).step()  # the course decays AFTER the Adam step
    np.testing.assert_allclose(q.data, [(2.0 - 0.1) * 0.95], rtol=1e-6)


def test_params_without_grad_are_skipped_and_zero_grad_clears():
    a, b = param([1.0], [1.0]), Tensor(np.array([5.0]), requires_grad=True)
    for opt in (SGD([a, b], lr=0.1, momentum=0.9), Adam([a, b], lr=0.1), AdamW([a, b], lr=0.1)):
        opt.step()
        assert b.data.tolist() == [5.0]
        assert a.data.dtype == np.float32
    opt.zero_grad()
    assert a.grad is None


def test_tensor_stored_as_grad_is_accepted():
    p = param([1.0], [0.0])
    p.grad = Tensor([2.0])
    SGD([p], lr=0.5).step()
    assert p.data.tolist() == [0.0]


def test_update_is_in_place_and_lr_can_be_changed():
    p = param([1.0], [1.0])
    data = p.data
    opt = SGD([p], lr=0.1)
    opt.lr = 0.5
    opt.step()
    assert p.data is data and p.data.tolist() == [0.5]


def test_course_attributes_state_and_defaults():
    p = param([1.0], [1.0])
    sgd = SGD([p])
    assert (sgd.lr, sgd.momentum, sgd.weight_decay, sgd.step_count, sgd.params) == (0.01, 0.0, 0.0, 0, [p])
    assert not sgd.has_momentum() and sgd.get_momentum_state() is None
    sgd = SGD([p], momentum=0.9)
    sgd.step()
    assert sgd.step_count == 1 and sgd.momentum_buffers[0].tolist() == [1.0]
    state = sgd.get_momentum_state()
    state[0][0] = 7.0  # a copy
    assert sgd.momentum_buffers[0].tolist() == [1.0]
    sgd.set_momentum_state(state)
    assert sgd.momentum_buffers[0].tolist() == [7.0]
    with pytest.raises(ValueError, match="State length 2"):
        sgd.set_momentum_state([None, None])
    adam = Adam([p])
    assert (adam.lr, adam.beta1, adam.beta2, adam.eps, adam.weight_decay) == (0.001, 0.9, 0.999, 1e-8, 0.0)
    adam.step()
    assert adam.step_count == 1 and adam.m_buffers[0].shape == (1,) and adam.v_buffers[0].shape == (1,)
    assert AdamW([p]).weight_decay == 0.01


def test_parameters_must_require_grad():
    with pytest.raises(ValueError, match="Parameter 1 does not require gradients"):
        SGD([param([1.0], [1.0]), Tensor([1.0])])
    assert SGD([]).params == []
    with pytest.raises(NotImplementedError):
        Optimizer([]).step()
