"""Spatial layers for NCHW images, as the course defines them: Conv2d, MaxPool2d, AvgPool2d,
BatchNorm2d, SimpleCNN, and the Conv2dBackward / MaxPool2dBackward functions.

Same results as the course's loops, vectorised: convolution is im2col (a strided view, one copy)
and ONE GEMM; pooling reads the same strided windows; backward passes scatter back with
``_col2im``, which loops only over the kh*kw kernel offsets. Stride and padding may be ints (as
the course) or pairs.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from tinytorch.core.autograd import Function
from tinytorch.core.layers import Layer
from tinytorch.core.tensor import Tensor, _records

DEFAULT_KERNEL_SIZE = 3
DEFAULT_STRIDE = 1
DEFAULT_PADDING = 0


def _pair(value) -> tuple[int, int]:
    pair = (value, value) if np.isscalar(value) else tuple(value)
    if len(pair) != 2 or any(int(v) != v or v < 0 for v in pair):
        raise ValueError(f"expected a non-negative int or a pair of them, got {value!r}")
    return int(pair[0]), int(pair[1])


def _check_nchw(x: Tensor) -> None:
    if x.data.ndim != 4:
        raise ValueError(f"Expected 4D input (batch, channels, height, width), got {x.shape}")


def _pad(data: np.ndarray, padding, value: float = 0.0) -> np.ndarray:
    ph, pw = _pair(padding)
    return np.pad(data, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value) if ph or pw else data


def _windows(xp: np.ndarray, kernel, stride) -> np.ndarray:
    """Strided view of all windows: (N, C, H, W) -> (N, C, Ho, Wo, kh, kw), no copy."""
    n, c, h, w = xp.shape
    (kh, kw), (sh, sw) = kernel, _pair(stride)
    ho, wo = (h - kh) // sh + 1, (w - kw) // sw + 1
    if ho < 1 or wo < 1:
        raise ValueError(f"input of spatial size {(h, w)} (after padding) is smaller than the kernel "
                         f"{(kh, kw)}")
    s = xp.strides
    return as_strided(xp, shape=(n, c, ho, wo, kh, kw),
                      strides=(s[0], s[1], s[2] * sh, s[3] * sw, s[2], s[3]), writeable=False)


def _col2im(cols: np.ndarray, image_shape, stride) -> np.ndarray:
    """Adjoint of ``_windows`` for OFFSET-MAJOR cols (kh, kw, A, B, Ho, Wo) -> (A, B, H, W)."""
    kh, kw, _, _, ho, wo = cols.shape
    sh, sw = _pair(stride)
    out = np.zeros(image_shape, dtype=np.float32)
    for i in range(kh):
        for j in range(kw):
            out[:, :, i:i + sh * (ho - 1) + 1:sh, j:j + sw * (wo - 1) + 1:sw] += cols[i, j]
    return out


def _unpad(grad: np.ndarray, padding, x_shape) -> np.ndarray:
    ph, pw = _pair(padding)
    return np.ascontiguousarray(grad[:, :, ph:ph + x_shape[2], pw:pw + x_shape[3]])


def _conv_rows(xp: np.ndarray, kernel, stride) -> tuple[np.ndarray, int, int]:
    """One im2col row per output pixel, columns ordered (kh, kw, C): (N*Ho*Wo, kh*kw*C)."""
    # Read from a channels-last copy: each row is then made of contiguous runs of kw*C floats.
    channels_last = np.ascontiguousarray(xp.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    windows = _windows(channels_last, kernel, stride)
    n, c, ho, wo, kh, kw = windows.shape
    return windows.transpose(0, 2, 3, 4, 5, 1).reshape(n * ho * wo, kh * kw * c), ho, wo


def _weight_matrix(weight: np.ndarray) -> np.ndarray:
    """(O, C, kh, kw) -> (O, kh*kw*C), matching the columns of ``_conv_rows``."""
    return weight.transpose(0, 2, 3, 1).reshape(weight.shape[0], -1)


class Conv2dBackward(Function):
    """Gradients of a convolution w.r.t. its input, weight and bias (course signature)."""

    def __init__(self, x, weight, bias, stride, padding, kernel_size, padded_shape):
        if bias is not None:
            super().__init__(x, weight, bias)
        else:
            super().__init__(x, weight)
        self.x, self.weight, self.bias = x, weight, bias
        self.stride, self.padding = stride, padding
        self.kernel_size, self.padded_shape = tuple(kernel_size), tuple(padded_shape)
        self.cols = None  # the forward's im2col rows, when it kept them

    def apply(self, grad_output):
        n, c, hp, wp = self.padded_shape
        kh, kw = self.kernel_size
        out_channels, ho, wo = grad_output.shape[1:]
        cols = self.cols
        if cols is None:
            cols = _conv_rows(_pad(self.x.data, self.padding), self.kernel_size, self.stride)[0]
        g_t = grad_output.transpose(1, 0, 2, 3).reshape(out_channels, -1)  # (O, N*Ho*Wo)
        grad_w = (g_t @ cols).reshape(out_channels, kh, kw, c).transpose(0, 3, 1, 2)
        grad_b = g_t.sum(axis=1) if self.bias is not None else None
        grad_x = None
        if self.x.requires_grad:
            # Offset-major (kh, kw, C, N, Ho, Wo) so _col2im adds contiguous slabs, into (C, N, H, W).
            dcols = (_weight_matrix(self.weight.data).T @ g_t).reshape(kh, kw, c, n, ho, wo)
            grad_xp = _col2im(dcols, (c, n, hp, wp), self.stride).transpose(1, 0, 2, 3)
            grad_x = _unpad(grad_xp, self.padding, self.x.shape)
        return grad_x, grad_w, grad_b


class Conv2d(Layer):
    """2-D convolution; ``weight`` (out_channels, in_channels, kh, kw), ``bias`` (out_channels,).

    Initialised as the course: He-normal weight ``np.random.normal(0, sqrt(2 / fan_in))``, zero bias.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True):
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
        self.stride = stride
        self.padding = padding
        kernel_h, kernel_w = self.kernel_size
        std = np.sqrt(2.0 / (in_channels * kernel_h * kernel_w))
        shape = (out_channels, in_channels, kernel_h, kernel_w)
        self.weight = Tensor(np.random.normal(0, std, shape), requires_grad=True)
        self.bias = Tensor(np.zeros(out_channels), requires_grad=True) if bias else None

    def forward(self, x):
        x = x if isinstance(x, Tensor) else Tensor(x)
        _check_nchw(x)
        if x.shape[1] != self.in_channels:
            raise ValueError(f"Conv2d expects {self.in_channels} input channels, got input shape {x.shape}")
        xp = _pad(x.data, self.padding)
        cols, ho, wo = _conv_rows(xp, self.kernel_size, self.stride)
        out = cols @ _weight_matrix(self.weight.data).T
        if self.bias is not None:
            out += self.bias.data
        out = np.ascontiguousarray(out.reshape(x.shape[0], ho, wo, self.out_channels).transpose(0, 3, 1, 2))
        result = Tensor._wrap(out)
        parents = (x, self.weight) if self.bias is None else (x, self.weight, self.bias)
        if not _records(*parents):
            return result
        fn = Conv2dBackward(x, self.weight, self.bias, self.stride, self.padding, self.kernel_size, xp.shape)
        fn.cols = cols
        return result._attach(fn)

    def parameters(self):
        return [self.weight] if self.bias is None else [self.weight, self.bias]

    def __repr__(self):
        return (f"Conv2d({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding})")


def _max_windows(xp: np.ndarray, kernel, stride) -> tuple[np.ndarray, np.ndarray]:
    """Max of every window and the flat index (row-major, first of ties) where it sits."""
    windows = _windows(xp, kernel, stride)
    n, c, ho, wo, kh, kw = windows.shape
    flat = windows.reshape(n, c, ho, wo, kh * kw)
    arg = flat.argmax(axis=-1)
    return np.take_along_axis(flat, arg[..., None], axis=-1)[..., 0], arg


class MaxPool2dBackward(Function):
    """The gradient of each window goes to its (first) maximum (course signature)."""

    def __init__(self, x, output_shape, kernel_size, stride, padding):
        super().__init__(x)
        self.x = x
        self.output_shape = tuple(output_shape)
        self.kernel_size, self.stride, self.padding = tuple(kernel_size), stride, padding
        self.argmax = None  # the forward's window argmax, when it kept it

    def apply(self, grad_output):
        xp = _pad(self.x.data, self.padding, -np.inf)
        arg = self.argmax if self.argmax is not None else _max_windows(xp, self.kernel_size, self.stride)[1]
        kh, kw = self.kernel_size
        n, c, ho, wo = self.output_shape
        dwin = np.zeros((kh * kw, n, c, ho, wo), dtype=np.float32)
        np.put_along_axis(dwin, arg[None], grad_output[None], axis=0)
        grad_xp = _col2im(dwin.reshape(kh, kw, n, c, ho, wo), xp.shape, self.stride)
        return (_unpad(grad_xp, self.padding, self.x.shape),)


class _Pool2d(Layer):
    """Window bookkeeping of the pools: kernel, stride (default: the kernel's height), padding."""

    def __init__(self, kernel_size, stride=None, padding=0):
        self.kernel_size = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
        self.stride = self.kernel_size[0] if stride is None else stride
        self.padding = padding

    def __repr__(self):
        return (f"{type(self).__name__}(kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding})")


class MaxPool2d(_Pool2d):
    """Max over each window (padding counts as -inf)."""

    def forward(self, x):
        x = x if isinstance(x, Tensor) else Tensor(x)
        _check_nchw(x)
        out, arg = _max_windows(_pad(x.data, self.padding, -np.inf), self.kernel_size, self.stride)
        result = Tensor._wrap(np.ascontiguousarray(out))
        if not _records(x):
            return result
        fn = MaxPool2dBackward(x, out.shape, self.kernel_size, self.stride, self.padding)
        fn.argmax = arg
        return result._attach(fn)


class AvgPool2d(_Pool2d):
    """Mean over each window (zero padding counts towards the mean); differentiable (the course's is not)."""

    def forward(self, x):
        x = x if isinstance(x, Tensor) else Tensor(x)
        _check_nchw(x)
        xp = _pad(x.data, self.padding)
        windows = _windows(xp, self.kernel_size, self.stride)
        n, c, ho, wo, kh, kw = windows.shape

        def backward(grad):
            share = np.broadcast_to((grad / (kh * kw)).astype(np.float32), (kh, kw, n, c, ho, wo))
            return (_unpad(_col2im(share, xp.shape, self.stride), self.padding, x.shape),)

        return Tensor._from_op(windows.mean(axis=(4, 5), dtype=np.float32), (x,), backward, "avgpool2d")


class BatchNorm2d(Layer):
    """Per-channel batch normalisation with learnable ``gamma``/``beta`` (as the course).

    Training mode normalises with the batch statistics and updates ``running_mean``/``running_var``
    (biased batch variance, ``running = (1 - momentum) * running + momentum * batch``); ``eval()``
    uses the running statistics. Differentiable (the course's is not).
    """

    def __init__(self, num_features, eps=1e-5, momentum=0.1):
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.gamma = Tensor(np.ones(num_features), requires_grad=True)
        self.beta = Tensor(np.zeros(num_features), requires_grad=True)
        self.running_mean = np.zeros(num_features, dtype=np.float32)
        self.running_var = np.ones(num_features, dtype=np.float32)
        self.training = True

    def train(self):
        self.training = True
        return self

    def eval(self):
        self.training = False
        return self

    def forward(self, x):
        x = x if isinstance(x, Tensor) else Tensor(x)
        _check_nchw(x)
        if x.shape[1] != self.num_features:
            raise ValueError(f"Expected {self.num_features} channels, got {x.shape[1]}")
        axes = (0, 2, 3)
        training = self.training
        if training:
            mean, var = x.data.mean(axis=axes), x.data.var(axis=axes)
            m = self.momentum
            self.running_mean = ((1 - m) * self.running_mean + m * mean).astype(np.float32)
            self.running_var = ((1 - m) * self.running_var + m * var).astype(np.float32)
        else:
            mean, var = self.running_mean, self.running_var
        inv_std = (1.0 / np.sqrt(var + self.eps)).astype(np.float32)[None, :, None, None]
        x_hat = (x.data - mean[None, :, None, None]) * inv_std
        gamma = self.gamma.data[None, :, None, None]
        out = x_hat * gamma + self.beta.data[None, :, None, None]

        def backward(grad):
            g_hat = grad * gamma
            if training:  # d/dx of (x - mean) * inv_std with batch statistics
                g_hat = (g_hat - g_hat.mean(axis=axes, keepdims=True)
                         - x_hat * (g_hat * x_hat).mean(axis=axes, keepdims=True))
            return g_hat * inv_std, (grad * x_hat).sum(axis=axes), grad.sum(axis=axes)

        return Tensor._from_op(out.astype(np.float32), (x, self.gamma, self.beta), backward, "batchnorm2d")

    def parameters(self):
        return [self.gamma, self.beta]


class SimpleCNN(Layer):
    """The course's example CNN: conv(3->16) relu pool, conv(16->32) relu pool, flattened features.

    For 3x32x32 input the features are (N, 32 * 8 * 8); ``num_classes`` is stored for a head.
    """

    def __init__(self, num_classes=10):
        self.conv1 = Conv2d(in_channels=3, out_channels=16, kernel_size=3, padding=1)
        self.pool1 = MaxPool2d(kernel_size=2, stride=2)
        self.conv2 = Conv2d(in_channels=16, out_channels=32, kernel_size=3, padding=1)
        self.pool2 = MaxPool2d(kernel_size=2, stride=2)
        self.flattened_size = 32 * 8 * 8
        self.num_classes = num_classes

    def relu(self, x):
        return x.relu()

    def forward(self, x):
        x = self.pool1(self.relu(self.conv1(x)))
        x = self.pool2(self.relu(self.conv2(x)))
        return x.reshape(x.shape[0], -1)

    def parameters(self):
        return self.conv1.parameters() + self.conv2.parameters()
