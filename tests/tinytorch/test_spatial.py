"""Conv2d, pools, BatchNorm2d, SimpleCNN: values against naive loops, finite-difference gradients,
the course's initialisation, attributes and Function classes."""

import numpy as np
import pytest

from tests.tinytorch.gradcheck import gradcheck
from tinytorch.core import spatial
from tinytorch.core.autograd import Function
from tinytorch.core.spatial import (
    AvgPool2d,
    BatchNorm2d,
    Conv2d,
    Conv2dBackward,
    MaxPool2d,
    MaxPool2dBackward,
    SimpleCNN,
    _col2im,
    _windows,
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


def test_windows_and_col2im_are_adjoint():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 3, 7, 6)).astype(np.float32)
    cols = _windows(x, (3, 2), (2, 1))
    c = rng.normal(size=cols.shape).astype(np.float32)  # (N, C, Ho, Wo, kh, kw) like the windows
    lhs = float((cols.astype(np.float64) * c).sum())
    offset_major = np.ascontiguousarray(c.transpose(4, 5, 0, 1, 2, 3))
    rhs = float((x.astype(np.float64) * _col2im(offset_major, x.shape, (2, 1))).sum())
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


def test_batchnorm_train_normalises_and_updates_running_stats_as_the_course():
    rng = np.random.default_rng(4)
    x = (rng.normal(size=(8, 3, 4, 4)) * 3 + 2).astype(np.float32)
    bn = BatchNorm2d(3, momentum=0.1)
    out = bn(Tensor(x)).data
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(out.var(axis=(0, 2, 3)), 1, atol=1e-3)
    np.testing.assert_allclose(bn.running_mean, 0.1 * x.mean(axis=(0, 2, 3)), rtol=1e-5)
    np.testing.assert_allclose(bn.running_var, 0.9 + 0.1 * x.var(axis=(0, 2, 3)), rtol=1e-5)  # biased


def test_batchnorm_eval_uses_running_stats():
    bn = BatchNorm2d(2)
    bn.running_mean[:] = [1.0, -1.0]
    bn.running_var[:] = [4.0, 0.25]
    assert bn.eval() is bn and not bn.training
    x = np.ones((1, 2, 1, 1), dtype=np.float32)
    out = bn(Tensor(x)).data.reshape(-1)
    np.testing.assert_allclose(out, [0.0, 2.0 / np.sqrt(0.25 + 1e-5)], rtol=1e-5)
    np.testing.assert_array_equal(bn.running_mean, [1.0, -1.0])  # eval never updates


@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_gradcheck(training):
    rng = np.random.default_rng(5)
    bn = BatchNorm2d(3)
    bn.running_mean[:] = [0.5, -0.2, 0.1]
    bn.training = training
    x = rng.normal(size=(4, 3, 3, 2))
    gamma, beta = rng.normal(size=3), rng.normal(size=3)

    def fn(x, g, b):
        bn.gamma, bn.beta = g, b
        return bn(x)

    gradcheck(fn, [x, gamma, beta])


def test_parameters_attributes_and_the_course_init():
    np.random.seed(3)
    conv = Conv2d(3, 8, 5)
    np.random.seed(3)
    np.testing.assert_array_equal(conv.weight.data, np.random.normal(0, np.sqrt(2 / 75), (8, 3, 5, 5))
                                  .astype(np.float32))
    assert conv.bias.data.tolist() == [0.0] * 8
    assert (conv.kernel_size, conv.stride, conv.padding) == ((5, 5), 1, 0)
    assert len(conv.parameters()) == 2 and len(Conv2d(3, 8, 5, bias=False).parameters()) == 1
    assert len(BatchNorm2d(4).parameters()) == 2 and MaxPool2d(2).parameters() == []
    pool = MaxPool2d(3)
    assert (pool.kernel_size, pool.stride, pool.padding) == ((3, 3), 3, 0)
    assert (spatial.DEFAULT_KERNEL_SIZE, spatial.DEFAULT_STRIDE, spatial.DEFAULT_PADDING) == (3, 1, 0)
    assert not hasattr(spatial, "Conv2D")  # the course has no NHWC aliases


def test_the_course_function_classes_are_recorded_and_work_standalone():
    rng = np.random.default_rng(8)
    conv = Conv2d(2, 3, 3, padding=1)
    x = Tensor(rng.normal(size=(2, 2, 5, 5)), requires_grad=True)
    out = conv(x)
    fn = out._grad_fn
    assert isinstance(fn, Conv2dBackward) and isinstance(fn, Function) and fn.saved_tensors[0] is x
    g = rng.normal(size=out.shape).astype(np.float32)
    fresh = Conv2dBackward(x, conv.weight, conv.bias, 1, 1, (3, 3), (2, 2, 7, 7))  # no cached im2col
    for a, b in zip(fn.apply(g), fresh.apply(g), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    pooled = MaxPool2d(2)(x)
    assert isinstance(pooled._grad_fn, MaxPool2dBackward)
    g = rng.normal(size=pooled.shape).astype(np.float32)
    fresh = MaxPool2dBackward(x, pooled.shape, (2, 2), 2, 0)
    np.testing.assert_array_equal(pooled._grad_fn.apply(g)[0], fresh.apply(g)[0])


def test_simple_cnn_features():
    model = SimpleCNN(num_classes=10)
    x = Tensor(np.random.default_rng(9).normal(size=(2, 3, 32, 32)))
    features = model(x)
    assert features.shape == (2, model.flattened_size) == (2, 32 * 8 * 8) and model.num_classes == 10
    assert model.parameters() == model.conv1.parameters() + model.conv2.parameters()
    expected = model.pool2(model.conv2(model.pool1(model.conv1(x).relu())).relu()).data.reshape(2, -1)
    np.testing.assert_allclose(features.data, expected)


def test_clear_errors():
    with pytest.raises(ValueError, match=r"3 input channels.*\(1, 2, 8, 8\)"):
        Conv2d(3, 4, 3)(Tensor(np.zeros((1, 2, 8, 8))))
    with pytest.raises(ValueError, match=r"Expected 4D input.*\(3, 8, 8\)"):
        Conv2d(3, 4, 3)(Tensor(np.zeros((3, 8, 8))))
    with pytest.raises(ValueError, match="smaller than the kernel"):
        MaxPool2d(5)(Tensor(np.zeros((1, 1, 4, 4))))
    with pytest.raises(ValueError, match="Expected 3 channels, got 2"):
        BatchNorm2d(3)(Tensor(np.zeros((1, 2, 1, 1))))


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
