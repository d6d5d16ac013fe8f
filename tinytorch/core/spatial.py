"""Spatial layers for NCHW images: Conv2d, MaxPool2d, AvgPool2d, BatchNorm2d, Flatten.

Flatten is re-exported from tinytorch.core.layers. Every other layer is one fused op with a
hand-written, vectorised backward:
- convolution is im2col (numpy stride tricks) + ONE GEMM; its backward is one GEMM per
  gradient plus col2im, which loops only over the kh*kw kernel offsets, never over pixels;
- pooling reads the same strided windows and scatters gradients back with the same col2im.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from tinytorch.core.layers import Flatten, Layer
from tinytorch.core.random import rng
from tinytorch.core.tensor import Tensor

__all__ = [
    "Conv2d", "MaxPool2d", "AvgPool2d", "BatchNorm2d", "Flatten",
    "Conv2D", "MaxPool2D", "AvgPool2D", "im2col", "col2im",
]


def _pair(value, what: str) -> tuple[int, int]:
    """Turn an int or a 2-sequence into a pair of non-negative ints."""
    pair = (value, value) if np.isscalar(value) else tuple(value)
    if len(pair) != 2 or any(int(v) != v or v < 0 for v in pair):
        raise ValueError(f"{what} must be a non-negative int or a pair of them, got {value!r}")
    return int(pair[0]), int(pair[1])


def _as_tensor(x) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(np.asarray(x, dtype=np.float32))


def _check_nchw(x: Tensor, layer: str, channels: int | None = None) -> None:
    if x.data.ndim != 4:
        raise ValueError(f"{layer} expects NCHW input with 4 dims, got shape {x.shape}; "
                         "add a batch axis with x.reshape(1, C, H, W)")
    if channels is not None and x.shape[1] != channels:
        raise ValueError(f"{layer} expects {channels} input channels (axis 1 of NCHW), "
                         f"got shape {x.shape}")


def _output_size(size: int, kernel: int, stride: int, layer: str, axis: str) -> int:
    if size < kernel:
        raise ValueError(f"{layer}: input {axis} {size} (after padding) is smaller than the "
                         f"kernel {kernel}; use a smaller kernel or more padding")
    return (size - kernel) // stride + 1


def im2col(x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int]) -> np.ndarray:
    """Strided view of all windows: (N, C, H, W) -> (N, C, Ho, Wo, kh, kw), no copy."""
    n, c, h, w = x.shape
    kh, kw = kernel
    sh, sw = stride
    ho, wo = (h - kh) // sh + 1, (w - kw) // sw + 1
    s = x.strides
    return as_strided(x, shape=(n, c, ho, wo, kh, kw),
                      strides=(s[0], s[1], s[2] * sh, s[3] * sw, s[2], s[3]), writeable=False)


def col2im(cols: np.ndarray, image_shape: tuple[int, ...], stride: tuple[int, int]) -> np.ndarray:
    """Adjoint of im2col, taking OFFSET-MAJOR cols: (kh, kw, A, B, Ho, Wo) -> (A, B, H, W).

    (A, B) is (N, C) or (C, N): any two leading axes are carried through. Loops over the kh*kw
    kernel offsets only; each step adds one contiguous (A, B, Ho, Wo) slab into a strided window.
    """
    kh, kw, a, b, ho, wo = cols.shape
    sh, sw = stride
    out = np.zeros(image_shape, dtype=np.float32)
    for i in range(kh):
        for j in range(kw):
            out[:, :, i:i + sh * (ho - 1) + 1:sh, j:j + sw * (wo - 1) + 1:sw] += cols[i, j]
    return out


class Conv2d(Layer):
    """2-D convolution on NCHW input; weight (out_channels, in_channels, kh, kw), bias (out_channels,).

    Initialised like PyTorch: uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)) from tinytorch's seeded rng.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 bias: bool = True):
        super().__init__()
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = _pair(kernel_size, "Conv2d kernel_size")
        self.stride = _pair(stride, "Conv2d stride")
        self.padding = _pair(padding, "Conv2d padding")
        if min(self.kernel_size) < 1 or min(self.stride) < 1:
            raise ValueError(f"Conv2d kernel_size and stride must be >= 1, got {kernel_size!r}, {stride!r}")
        kh, kw = self.kernel_size
        bound = 1.0 / np.sqrt(in_channels * kh * kw)
        shape = (out_channels, in_channels, kh, kw)
        self.weight = Tensor(rng().uniform(-bound, bound, shape).astype(np.float32), requires_grad=True)
        self.bias = (Tensor(rng().uniform(-bound, bound, out_channels).astype(np.float32),
                            requires_grad=True) if bias else None)

    def forward(self, x) -> Tensor:
        x = _as_tensor(x)
        _check_nchw(x, "Conv2d", self.in_channels)
        ph, pw = self.padding
        xp = np.pad(x.data, ((0, 0), (0, 0), (ph, ph), (pw, pw))) if ph or pw else x.data
        n, c, hp, wp = xp.shape
        kh, kw = self.kernel_size
        ho = _output_size(hp, kh, self.stride[0], "Conv2d", "height")
        wo = _output_size(wp, kw, self.stride[1], "Conv2d", "width")
        # One row per output pixel, ordered (kh, kw, C): read from a channels-last copy, each row is
        # made of contiguous runs of kw*C floats, which makes the im2col copy several times faster.
        channels_last = np.ascontiguousarray(xp.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
        cols = im2col(channels_last, self.kernel_size, self.stride).transpose(0, 2, 3, 4, 5, 1)
        cols = cols.reshape(n * ho * wo, kh * kw * c)
        w_mat = self.weight.data.transpose(0, 2, 3, 1).reshape(self.out_channels, -1)
        out = cols @ w_mat.T
        if self.bias is not None:
            out += self.bias.data
        out = out.reshape(n, ho, wo, self.out_channels).transpose(0, 3, 1, 2)
        out = np.ascontiguousarray(out, dtype=np.float32)

        def backward(grad):
            g_t = grad.transpose(1, 0, 2, 3).reshape(self.out_channels, -1)  # (O, N*Ho*Wo)
            grad_w = grad_b = grad_x = None
            if self.weight.requires_grad:
                grad_w = (g_t @ cols).reshape(self.out_channels, kh, kw, c).transpose(0, 3, 1, 2)
            if self.bias is not None and self.bias.requires_grad:
                grad_b = g_t.sum(axis=1)
            if x.requires_grad:
                # Offset-major (kh, kw, C, N, Ho, Wo) so col2im adds contiguous slabs, into (C, N, H, W).
                dcols = (w_mat.T @ g_t).reshape(kh, kw, c, n, ho, wo)
                grad_xp = col2im(dcols, (c, n, hp, wp), self.stride).transpose(1, 0, 2, 3)
                grad_x = np.ascontiguousarray(grad_xp[:, :, ph:ph + x.shape[2], pw:pw + x.shape[3]])
            return (grad_x, grad_w, grad_b) if self.bias is not None else (grad_x, grad_w)

        parents = (x, self.weight, self.bias) if self.bias is not None else (x, self.weight)
        return Tensor._from_op(out, parents, backward, "conv2d")

    def __repr__(self) -> str:
        return (f"Conv2d({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding})")


class _Pool2d(Layer):
    """Shared window bookkeeping of the pools: kernel, stride (default = kernel), padding."""

    name = "Pool2d"

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = _pair(kernel_size, f"{self.name} kernel_size")
        self.stride = self.kernel_size if stride is None else _pair(stride, f"{self.name} stride")
        self.padding = _pair(padding, f"{self.name} padding")
        if min(self.kernel_size) < 1 or min(self.stride) < 1:
            raise ValueError(f"{self.name} kernel_size and stride must be >= 1, "
                             f"got {kernel_size!r}, {stride!r}")

    def _windows(self, x: Tensor, pad_value: float):
        _check_nchw(x, self.name)
        ph, pw = self.padding
        xp = x.data
        if ph or pw:
            xp = np.pad(xp, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=pad_value)
        _output_size(xp.shape[2], self.kernel_size[0], self.stride[0], self.name, "height")
        _output_size(xp.shape[3], self.kernel_size[1], self.stride[1], self.name, "width")
        return xp.shape, im2col(xp, self.kernel_size, self.stride)

    def _unpad(self, grad_xp: np.ndarray, x: Tensor) -> np.ndarray:
        ph, pw = self.padding
        return grad_xp[:, :, ph:ph + x.shape[2], pw:pw + x.shape[3]]

    def __repr__(self) -> str:
        return f"{self.name}(kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding})"


class MaxPool2d(_Pool2d):
    """Max over each window; the gradient goes to the first maximum of a window (ties: lowest index)."""

    name = "MaxPool2d"

    def forward(self, x) -> Tensor:
        x = _as_tensor(x)
        padded_shape, windows = self._windows(x, pad_value=-np.inf)
        n, c, ho, wo, kh, kw = windows.shape
        flat = windows.reshape(n, c, ho, wo, kh * kw)
        arg = flat.argmax(axis=-1)[..., None]
        out = np.take_along_axis(flat, arg, axis=-1)[..., 0]

        def backward(grad):
            dwin = np.zeros((kh * kw, n, c, ho, wo), dtype=np.float32)
            np.put_along_axis(dwin, arg[None, ..., 0], grad[None], axis=0)
            grad_xp = col2im(dwin.reshape(kh, kw, n, c, ho, wo), padded_shape, self.stride)
            return (self._unpad(grad_xp, x),)

        return Tensor._from_op(out.astype(np.float32), (x,), backward, "maxpool2d")


class AvgPool2d(_Pool2d):
    """Mean over each window (zero padding counts towards the mean, like PyTorch's default)."""

    name = "AvgPool2d"

    def forward(self, x) -> Tensor:
        x = _as_tensor(x)
        padded_shape, windows = self._windows(x, pad_value=0.0)
        n, c, ho, wo, kh, kw = windows.shape
        out = windows.mean(axis=(4, 5), dtype=np.float32)

        def backward(grad):
            share = (grad / (kh * kw)).astype(np.float32)
            dwin = np.broadcast_to(share, (kh, kw, n, c, ho, wo))
            return (self._unpad(col2im(dwin, padded_shape, self.stride), x),)

        return Tensor._from_op(out, (x,), backward, "avgpool2d")


class BatchNorm2d(Layer):
    """Batch normalisation over (N, H, W) per channel, with learnable gamma/beta.

    Training mode normalises with the batch statistics and updates the running ones
    (running = (1 - momentum) * running + momentum * batch, unbiased batch variance, as PyTorch);
    eval mode normalises with the running statistics.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1):
        super().__init__()
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"BatchNorm2d momentum must be in [0, 1], got {momentum}")
        self.num_features, self.eps, self.momentum = int(num_features), float(eps), float(momentum)
        self.gamma = Tensor(np.ones(num_features, dtype=np.float32), requires_grad=True)
        self.beta = Tensor(np.zeros(num_features, dtype=np.float32), requires_grad=True)
        self.running_mean = np.zeros(num_features, dtype=np.float32)
        self.running_var = np.ones(num_features, dtype=np.float32)

    def forward(self, x) -> Tensor:
        x = _as_tensor(x)
        _check_nchw(x, "BatchNorm2d", self.num_features)
        axes = (0, 2, 3)
        training = getattr(self, "training", True)
        if training:
            count = x.data.size // self.num_features
            if count < 2:
                raise ValueError(f"BatchNorm2d in training mode needs more than one value per channel, "
                                 f"got input shape {x.shape}; use a bigger batch or call .eval()")
            mean = x.data.mean(axis=axes)
            var = x.data.var(axis=axes)
            m = self.momentum
            self.running_mean = ((1 - m) * self.running_mean + m * mean).astype(np.float32)
            self.running_var = ((1 - m) * self.running_var + m * var * count / (count - 1)).astype(np.float32)
        else:
            mean, var = self.running_mean, self.running_var
        inv_std = (1.0 / np.sqrt(var + self.eps)).astype(np.float32)
        x_hat = (x.data - mean[None, :, None, None]) * inv_std[None, :, None, None]
        out = x_hat * self.gamma.data[None, :, None, None] + self.beta.data[None, :, None, None]

        def backward(grad):
            grad_gamma = (grad * x_hat).sum(axis=axes)
            grad_beta = grad.sum(axis=axes)
            g_hat = grad * self.gamma.data[None, :, None, None]
            if training:
                # d/dx of (x - mean) * inv_std with batch statistics.
                grad_x = (g_hat - g_hat.mean(axis=axes, keepdims=True)
                          - x_hat * (g_hat * x_hat).mean(axis=axes, keepdims=True))
                grad_x = grad_x * inv_std[None, :, None, None]
            else:
                grad_x = g_hat * inv_std[None, :, None, None]
            return grad_x.astype(np.float32), grad_gamma, grad_beta

        return Tensor._from_op(out.astype(np.float32), (x, self.gamma, self.beta), backward, "batchnorm2d")

    def __repr__(self) -> str:
        return f"BatchNorm2d({self.num_features}, eps={self.eps}, momentum={self.momentum})"


Conv2D, MaxPool2D, AvgPool2D = Conv2d, MaxPool2d, AvgPool2d
