"""Conv2d, pools and BatchNorm2d: values against naive loops, finite-difference gradients, errors."""

import numpy as np
import pytest

from tests.tinytorch.gradcheck import gradcheck
from tinytorch.core.layers import Sequential
from tinytorch.core.spatial import (
    AvgPool2D,
    AvgPool2d,
    BatchNorm2d,
    Conv2D,
    Conv2d,
    Flatten,
    MaxPool2D,
    MaxPool2d,
    col2im,
    im2col,
)
from tinytorch.core.tensor import Tensor


def naive_conv(x, w, b, stride, pad):
    """Direct six-loop convolution, the obviously-correct reference."""
    x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    ho, wo = (h - kh) // stride + 1, (wd - kw) // stride + 1
    out = np.zeros((n, o, ho, wo))
    for i in range(ho):
        for j in range(wo):
            patch = x[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
            out[:, :, i, j] = np.tensordot(patch, w, axes=([1, 2, 3], [1, 2, 3])) + b
    return out


def separated_values(shape, seed=0):
    """Distinct values at least 0.1 apart, so a finite-difference step never flips a max."""
    rng = np.random.default_rng(seed)
    return (rng.permutation(int(np.prod(shape))).reshape(shape) * 0.1 - 1.0).astype(np.float32)


def test_conv_known_values():
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    conv = Conv2d(1, 1, 2, bias=False)
    conv.weight.data[...] = 1.0
    out = conv(Tensor(x)).data
    np.testing.assert_allclose(out[0, 0], [[10, 14, 18], [26, 30, 34], [42, 46, 50]])


@pytest.mark.parametrize("stride,pad", [(1, 0), (2, 1), (3, 2)])
def test_conv_matches_naive_loops(stride, pad):
    rng = np.random.default_rng(stride)
    x = rng.normal(size=(2, 3, 7, 8)).astype(np.float32)
    conv = Conv2d(3, 4, 3, stride=stride, padding=pad)
    out = conv(Tensor(x)).data
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, naive_conv(x, conv.weight.data, conv.bias.data, stride, pad),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("stride,pad,bias", [(1, 0, True), (2, 1, True), (2, 2, False)])
def test_conv_gradcheck(stride, pad, bias):
    rng = np.random.default_rng(1)
    conv = Conv2d(2, 3, (3, 2), stride=stride, padding=pad, bias=bias)
    x = rng.normal(size=(2, 2, 5, 6))

    def fn(x, w, *b):
        conv.weight = w
        conv.bias = b[0] if b else None
        return conv(x)

    inputs = [x, conv.weight.data] + ([conv.bias.data] if bias else [])
    gradcheck(fn, inputs)


def test_im2col_col2im_are_adjoint():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 3, 7, 6)).astype(np.float32)
    cols = im2col(x, (3, 2), (2, 1))
    c = rng.normal(size=cols.shape).astype(np.float32)  # (N, C, Ho, Wo, kh, kw) like im2col
    lhs = float((cols.astype(np.float64) * c).sum())
    offset_major = np.ascontiguousarray(c.transpose(4, 5, 0, 1, 2, 3))
    rhs = float((x.astype(np.float64) * col2im(offset_major, x.shape, (2, 1))).sum())
    assert lhs == pytest.approx(rhs, rel=1e-5)


def test_maxpool_values_and_default_stride():
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    out = MaxPool2d(2)(Tensor(x)).data
    np.testing.assert_array_equal(out[0, 0], [[5, 7], [13, 15]])


@pytest.mark.parametrize("kernel,stride,pad", [(2, 2, 0), (3, 2, 0), (3, 1, 1), ((2, 3), (1, 2), 0)])
def test_maxpool_gradcheck_overlapping_windows(kernel, stride, pad):
    x = separated_values((2, 2, 6, 7))
    gradcheck(lambda t: MaxPool2d(kernel, stride, padding=pad)(t), [x])


def test_maxpool_ties_send_gradient_to_one_element_per_window():
    x = Tensor(np.ones((1, 1, 4, 4), dtype=np.float32), requires_grad=True)
    MaxPool2d(2)(x).sum().backward()
    expected = np.zeros((4, 4))
    expected[0::2, 0::2] = 1.0  # first element of each window
    np.testing.assert_array_equal(x.grad[0, 0], expected)


def test_maxpool_overlapping_windows_accumulate_gradient():
    x = np.zeros((1, 1, 3, 3), dtype=np.float32)
    x[0, 0, 1, 1] = 5.0  # the centre is the max of all four 2x2 windows
    t = Tensor(x, requires_grad=True)
    MaxPool2d(2, stride=1)(t).sum().backward()
    assert t.grad[0, 0, 1, 1] == 4.0
    assert t.grad.sum() == 4.0


def test_avgpool_values_and_gradcheck():
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    np.testing.assert_allclose(AvgPool2d(2)(Tensor(x)).data[0, 0], [[2.5, 4.5], [10.5, 12.5]])
    rng = np.random.default_rng(3)
    gradcheck(lambda t: AvgPool2d(3, stride=2, padding=1)(t), [rng.normal(size=(2, 2, 5, 6))])


def test_batchnorm_train_normalises_and_updates_running_stats():
    rng = np.random.default_rng(4)
    x = (rng.normal(size=(8, 3, 4, 4)) * 3 + 2).astype(np.float32)
    bn = BatchNorm2d(3, momentum=0.1)
    out = bn(Tensor(x)).data
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(out.var(axis=(0, 2, 3)), 1, atol=1e-3)
    count = 8 * 4 * 4
    np.testing.assert_allclose(bn.running_mean, 0.1 * x.mean(axis=(0, 2, 3)), rtol=1e-5)
    unbiased = x.var(axis=(0, 2, 3)) * count / (count - 1)
    np.testing.assert_allclose(bn.running_var, 0.9 + 0.1 * unbiased, rtol=1e-5)


def test_batchnorm_eval_uses_running_stats():
    bn = BatchNorm2d(2)
    bn.running_mean[:] = [1.0, -1.0]
    bn.running_var[:] = [4.0, 0.25]
    bn.eval()
    x = np.ones((1, 2, 1, 1), dtype=np.float32)
    out = bn(Tensor(x)).data.reshape(-1)
    np.testing.assert_allclose(out, [0.0, 2.0 / np.sqrt(0.25 + 1e-5)], rtol=1e-5)
    np.testing.assert_array_equal(bn.running_mean, [1.0, -1.0])  # eval never updates


@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_gradcheck(training):
    rng = np.random.default_rng(5)
    bn = BatchNorm2d(3)
    bn.running_mean[:] = [0.5, -0.2, 0.1]
    bn.train(training)
    x = rng.normal(size=(4, 3, 3, 2))
    gamma, beta = rng.normal(size=3), rng.normal(size=3)

    def fn(x, g, b):
        bn.gamma, bn.beta = g, b
        return bn(x)

    gradcheck(fn, [x, gamma, beta])


def test_parameters_and_aliases():
    assert Conv2D is Conv2d and MaxPool2D is MaxPool2d and AvgPool2D is AvgPool2d
    conv = Conv2d(3, 8, 5)
    assert conv.weight.shape == (8, 3, 5, 5) and conv.bias.shape == (8,)
    assert len(conv.parameters()) == 2 and len(Conv2d(3, 8, 5, bias=False).parameters()) == 1
    assert len(BatchNorm2d(4).parameters()) == 2 and MaxPool2d(2).parameters() == []
    assert Flatten()(Tensor(np.zeros((2, 3, 4, 5)))).shape == (2, 60)


def test_clear_errors():
    with pytest.raises(ValueError, match=r"3 input channels.*\(1, 2, 8, 8\)"):
        Conv2d(3, 4, 3)(Tensor(np.zeros((1, 2, 8, 8))))
    with pytest.raises(ValueError, match=r"4 dims.*\(3, 8, 8\)"):
        Conv2d(3, 4, 3)(Tensor(np.zeros((3, 8, 8))))
    with pytest.raises(ValueError, match="smaller than the kernel"):
        MaxPool2d(5)(Tensor(np.zeros((1, 1, 4, 4))))
    with pytest.raises(ValueError, match="more than one value per channel"):
        BatchNorm2d(2)(Tensor(np.zeros((1, 2, 1, 1))))


def test_eval_propagates_through_sequential_to_batchnorm():
    net = Sequential(Conv2d(1, 2, 1, bias=False), BatchNorm2d(2))
    x = Tensor(np.random.default_rng(6).normal(size=(4, 1, 3, 3)))
    train_out = net(x).data
    net.eval()
    before = net[1].running_mean.copy()
    eval_out = net(x).data
    np.testing.assert_array_equal(net[1].running_mean, before)  # eval never updates
    assert np.abs(train_out - eval_out).max() > 1e-2  # batch stats vs running stats differ
    assert not net[1].training


@pytest.mark.parametrize("stride,pad", [(1, 0), (2, 1)])
def test_conv_and_avgpool_backward_are_exact_adjoints(stride, pad):
    """Linear maps: <backward(g), d> must equal <forward(d), g> to float32 precision (not just 2 %)."""
    rng = np.random.default_rng(7)
    conv = Conv2d(3, 4, 3, stride=stride, padding=pad, bias=False)
    x, d = rng.normal(size=(2, 3, 7, 6)), rng.normal(size=(2, 3, 7, 6))
    dw = rng.normal(size=conv.weight.shape)
    w = conv.weight.data.copy()

    def pairing(a, b):
        return float((np.asarray(a, np.float64) * b).sum())

    for layer in (conv, AvgPool2d(3, stride=stride, padding=pad)):
        xt = Tensor(x, requires_grad=True)
        out = layer(xt)
        g = rng.normal(size=out.shape)
        out.backward(g.astype(np.float32))
        assert pairing(xt.grad, d) == pytest.approx(pairing(layer(Tensor(d)).data, g), rel=1e-4)
    conv.weight = Tensor(w, requires_grad=True)
    out = conv(Tensor(x))
    g = rng.normal(size=out.shape)
    out.backward(g.astype(np.float32))
    grad_w = conv.weight.grad
    conv.weight = Tensor(dw)
    assert pairing(grad_w, dw) == pytest.approx(pairing(conv(Tensor(x)).data, g), rel=1e-4)
