"""Tensor: a float32 numpy array that records the ops applied to it, for reverse-mode autograd.

Every differentiable op is built with ``Tensor._from_op(data, parents, backward, name)``, where
``backward(grad_out)`` returns one gradient per parent (that parent's shape, or ``None``).
Gradients passed to ``backward`` may be read-only views: never modify them in place.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from tinytorch.core import autograd

FLOAT = np.float32


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``grad`` over the axes that broadcasting added or stretched, giving an array of ``shape``."""
    shape = tuple(shape)
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad.reshape(shape)


def _as_array(value) -> np.ndarray:
    if isinstance(value, Tensor):
        return value.data
    array = np.asarray(value)
    return array if array.dtype == FLOAT else array.astype(FLOAT)


def _as_tensor(value) -> Tensor:
    return value if isinstance(value, Tensor) else Tensor(value)


def _normalize_axes(axis, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    for a in axes:
        if not -ndim <= a < max(ndim, 1):
            raise ValueError(f"axis {a} is out of range for a tensor with {ndim} dimensions")
    return tuple(sorted(int(a) % max(ndim, 1) for a in axes))


def _expand_reduced(grad: np.ndarray, axes: tuple[int, ...], keepdims: bool, shape) -> np.ndarray:
    """Broadcast the gradient of a reduction back to the input ``shape``."""
    if not keepdims:
        grad = np.expand_dims(grad, axes) if axes else grad
    return np.broadcast_to(grad, shape)


def _pick_axis(axis, dim):
    return dim if axis is None else axis


def _broadcast_error(op: str, a: Tensor, b: Tensor) -> ValueError:
    return ValueError(
        f"{op}: shapes {a.shape} and {b.shape} cannot be broadcast together "
        "(each trailing dimension must match or be 1); reshape one operand first"
    )


class Tensor:
    """An n-dimensional float32 array with gradient tracking."""

    __array_priority__ = 1000  # so that ndarray (op) Tensor defers to Tensor's reflected op
    __hash__ = object.__hash__

    def __init__(self, data, requires_grad: bool = False):
        array = _as_array(data)
        if isinstance(data, Tensor) or array is data:
            array = array.copy()  # never alias the caller's array
        self._data = array
        self.requires_grad = bool(requires_grad)
        self.grad: np.ndarray | None = None
        self._parents: tuple[Tensor, ...] = ()
        self._backward: Callable | None = None
        self._op = ""
        self._retains_grad = False

    @classmethod
    def _from_op(
        cls,
        data: np.ndarray,
        parents: tuple[Tensor, ...],
        backward: Callable[[np.ndarray], tuple[np.ndarray | None, ...]],
        name: str,
    ) -> Tensor:
        """The result of a differentiable op; records the graph only when it is needed."""
        out = cls.__new__(cls)
        out._data = data if isinstance(data, np.ndarray) and data.dtype == FLOAT else _as_array(data)
        out.grad = None
        out._op = name
        out._retains_grad = False
        if autograd.is_grad_enabled() and any(p.requires_grad for p in parents):
            out.requires_grad = True
            out._parents = parents
            out._backward = backward
        else:
            out.requires_grad = False
            out._parents = ()
            out._backward = None
        return out

    # ----------------------------------------------------------------- basics
    @property
    def data(self) -> np.ndarray:
        """The values, a float32 ndarray. Assigning converts to float32 (e.g. ``p.data = p.data - g``)."""
        return self._data

    @data.setter
    def data(self, value) -> None:
        self._data = _as_array(value)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def T(self) -> Tensor:
        """Transpose of the last two dimensions (a no-op copy for 0-D and 1-D tensors)."""
        return self.transpose() if self.ndim >= 2 else self.reshape(self.shape)

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d Tensor")
        return self.shape[0]

    def __repr__(self) -> str:
        grad = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor({np.array2string(self.data, threshold=20)}, shape={self.shape}{grad})"

    def numpy(self) -> np.ndarray:
        return self.data

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        """``np.asarray(tensor)`` gives the data (numpy functions then work on values, without grad)."""
        return self.data if dtype is None else self.data.astype(dtype)

    def item(self) -> float:
        if self.size != 1:
            raise ValueError(f"item() needs a tensor with one element, got shape {self.shape}")
        return float(self.data.reshape(()))

    def detach(self) -> Tensor:
        """A new tensor sharing this data, cut from the graph."""
        out = Tensor.__new__(Tensor)
        out._data, out.requires_grad, out.grad = self._data, False, None
        out._parents, out._backward, out._op, out._retains_grad = (), None, "", False
        return out

    def retain_grad(self) -> None:
        """Also store ``.grad`` on this non-leaf tensor during backward."""
        self._retains_grad = True

    def zero_grad(self) -> None:
        self.grad = None

    def backward(self, grad=None) -> None:
        """Compute gradients of this tensor w.r.t. every leaf that requires grad (accumulating)."""
        if not self.requires_grad:
            raise RuntimeError(
                "backward() called on a tensor that does not require grad: no input of the "
                "computation had requires_grad=True, or it was computed under no_grad()"
            )
        if grad is None:
            if self.size != 1:
                raise RuntimeError(
                    f"backward() without a gradient needs a scalar output, got shape {self.shape}; "
                    "pass grad= of the same shape or reduce with .sum()/.mean() first"
                )
            grad = np.ones(self.shape, dtype=FLOAT)
        else:
            grad = _as_array(grad)
            if grad.shape != self.shape:
                raise ValueError(f"backward(grad): grad shape {grad.shape} != tensor shape {self.shape}")
        autograd.run_backward(self, grad)

    # ------------------------------------------------------------ arithmetic
    def __add__(self, other) -> Tensor:
        a, b = self, _as_tensor(other)
        try:
            data = a.data + b.data
        except ValueError:
            raise _broadcast_error("add", a, b) from None
        return Tensor._from_op(
            data, (a, b), lambda g: (unbroadcast(g, a.shape), unbroadcast(g, b.shape)), "add"
        )

    def __radd__(self, other) -> Tensor:
        return _as_tensor(other) + self

    def __sub__(self, other) -> Tensor:
        a, b = self, _as_tensor(other)
        try:
            data = a.data - b.data
        except ValueError:
            raise _broadcast_error("sub", a, b) from None
        return Tensor._from_op(
            data, (a, b), lambda g: (unbroadcast(g, a.shape), unbroadcast(-g, b.shape)), "sub"
        )

    def __rsub__(self, other) -> Tensor:
        return _as_tensor(other) - self

    def __mul__(self, other) -> Tensor:
        a, b = self, _as_tensor(other)
        try:
            data = a.data * b.data
        except ValueError:
            raise _broadcast_error("mul", a, b) from None

        def backward(g):
            ga = unbroadcast(g * b.data, a.shape) if a.requires_grad else None
            gb = unbroadcast(g * a.data, b.shape) if b.requires_grad else None
            return ga, gb

        return Tensor._from_op(data, (a, b), backward, "mul")

    def __rmul__(self, other) -> Tensor:
        return _as_tensor(other) * self

    def __truediv__(self, other) -> Tensor:
        a, b = self, _as_tensor(other)
        try:
            data = a.data / b.data
        except ValueError:
            raise _broadcast_error("div", a, b) from None

        def backward(g):
            ga = unbroadcast(g / b.data, a.shape) if a.requires_grad else None
            gb = unbroadcast(-g * data / b.data, b.shape) if b.requires_grad else None
            return ga, gb

        return Tensor._from_op(data, (a, b), backward, "div")

    def __rtruediv__(self, other) -> Tensor:
        return _as_tensor(other) / self

    def __neg__(self) -> Tensor:
        return Tensor._from_op(-self.data, (self,), lambda g: (-g,), "neg")

    def __pow__(self, exponent) -> Tensor:
        a = self
        if isinstance(exponent, Tensor):
            return (a.log() * exponent).exp()
        p = float(exponent)
        data = np.power(a.data, FLOAT(p))
        return Tensor._from_op(
            data, (a,), lambda g: (g * FLOAT(p) * np.power(a.data, FLOAT(p - 1)),), f"pow{p:g}"
        )

    def __rpow__(self, base) -> Tensor:
        return _as_tensor(base) ** self

    def __matmul__(self, other) -> Tensor:
        return matmul(self, other)

    def __rmatmul__(self, other) -> Tensor:
        return matmul(_as_tensor(other), self)

    def matmul(self, other) -> Tensor:
        return matmul(self, other)

    # ------------------------------------------------------------ comparisons (no grad)
    def _compare(self, other, fn) -> Tensor:
        return Tensor(fn(self.data, _as_array(other)))

    def __gt__(self, other) -> Tensor:
        return self._compare(other, np.greater)

    def __ge__(self, other) -> Tensor:
        return self._compare(other, np.greater_equal)

    def __lt__(self, other) -> Tensor:
        return self._compare(other, np.less)

    def __le__(self, other) -> Tensor:
        return self._compare(other, np.less_equal)

    def __eq__(self, other) -> Tensor:  # type: ignore[override]
        return self._compare(other, np.equal)

    def __ne__(self, other) -> Tensor:  # type: ignore[override]
        return self._compare(other, np.not_equal)

    def argmax(self, axis=None) -> np.ndarray:
        """Indices of the maxima as an integer ndarray (not differentiable)."""
        return np.argmax(self.data, axis=axis)

    # ------------------------------------------------------------ elementwise math
    def exp(self) -> Tensor:
        data = np.exp(self.data)
        return Tensor._from_op(data, (self,), lambda g: (g * data,), "exp")

    def log(self) -> Tensor:
        a = self
        return Tensor._from_op(np.log(a.data), (a,), lambda g: (g / a.data,), "log")

    def sqrt(self) -> Tensor:
        data = np.sqrt(self.data)
        return Tensor._from_op(data, (self,), lambda g: (g * FLOAT(0.5) / data,), "sqrt")

    def tanh(self) -> Tensor:
        data = np.tanh(self.data)
        return Tensor._from_op(data, (self,), lambda g: (g * (1 - data * data),), "tanh")

    def sigmoid(self) -> Tensor:
        x = self.data
        e = np.exp(-np.abs(x))
        data = np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(FLOAT, copy=False)
        return Tensor._from_op(data, (self,), lambda g: (g * data * (1 - data),), "sigmoid")

    def relu(self) -> Tensor:
        x = self.data
        return Tensor._from_op(np.maximum(x, 0), (self,), lambda g: (g * (x > 0),), "relu")

    def abs(self) -> Tensor:
        x = self.data
        return Tensor._from_op(np.abs(x), (self,), lambda g: (g * np.sign(x),), "abs")

    def clip(self, low=None, high=None) -> Tensor:
        """Clamp values; the gradient is zero where a bound was applied."""
        x = self.data
        data = np.clip(x, low, high)
        return Tensor._from_op(data, (self,), lambda g: (g * (data == x),), "clip")

    def masked_fill(self, mask, value: float) -> Tensor:
        """Replace entries where ``mask`` is true (broadcastable) with ``value``."""
        a = self
        mask = np.asarray(mask.data if isinstance(mask, Tensor) else mask).astype(bool, copy=False)
        try:
            data = np.where(mask, FLOAT(value), a.data)
        except ValueError:
            raise ValueError(
                f"masked_fill: mask shape {mask.shape} cannot be broadcast to tensor shape {a.shape}"
            ) from None
        keep = ~mask
        return Tensor._from_op(data, (a,), lambda g: (unbroadcast(g * keep, a.shape),), "masked_fill")

    # ------------------------------------------------------------ reductions
    def sum(self, axis=None, keepdims: bool = False, *, dim=None, keepdim=None) -> Tensor:
        a = self
        axis, keepdims = _pick_axis(axis, dim), bool(keepdims or keepdim)
        axes = _normalize_axes(axis, a.ndim)
        data = np.sum(a.data, axis=axes, keepdims=keepdims)
        return Tensor._from_op(
            data, (a,), lambda g: (_expand_reduced(g, axes, keepdims, a.shape),), "sum"
        )

    def mean(self, axis=None, keepdims: bool = False, *, dim=None, keepdim=None) -> Tensor:
        a = self
        axis, keepdims = _pick_axis(axis, dim), bool(keepdims or keepdim)
        axes = _normalize_axes(axis, a.ndim)
        count = int(np.prod([a.shape[i] for i in axes])) if a.ndim else 1
        data = np.mean(a.data, axis=axes, keepdims=keepdims)
        scale = FLOAT(1.0 / max(count, 1))
        return Tensor._from_op(
            data, (a,), lambda g: (_expand_reduced(g * scale, axes, keepdims, a.shape),), "mean"
        )

    def max(self, axis=None, keepdims: bool = False, *, dim=None, keepdim=None) -> Tensor:
        """Maximum over ``axis``; the gradient is split evenly between tied maxima."""
        a = self
        axis, keepdims = _pick_axis(axis, dim), bool(keepdims or keepdim)
        axes = _normalize_axes(axis, a.ndim)
        if a.size == 0:
            raise ValueError(f"max() of an empty tensor (shape {a.shape})")
        kept = np.max(a.data, axis=axes, keepdims=True)
        data = kept if keepdims else kept.reshape([n for i, n in enumerate(a.shape) if i not in axes])

        def backward(g):
            is_max = a.data == kept
            share = is_max / is_max.sum(axis=axes, keepdims=True, dtype=FLOAT)
            return (_expand_reduced(g, axes, keepdims, a.shape) * share,)

        return Tensor._from_op(data, (a,), backward, "max")

    # ------------------------------------------------------------ shape ops
    def reshape(self, *shape) -> Tensor:
        a = self
        shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        try:
            data = a.data.reshape(shape)
        except ValueError:
            raise ValueError(f"reshape: cannot reshape tensor of shape {a.shape} ({a.size} elements) "
                             f"into shape {shape}") from None
        return Tensor._from_op(data, (a,), lambda g: (g.reshape(a.shape),), "reshape")

    view = reshape

    def flatten(self, start_dim: int = 0) -> Tensor:
        start = start_dim % max(self.ndim, 1)
        return self.reshape(self.shape[:start] + (-1,))

    def permute(self, *dims) -> Tensor:
        dims = tuple(dims[0]) if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims
        if sorted(d % self.ndim for d in dims) != list(range(self.ndim)):
            raise ValueError(f"permute: {dims} is not a permutation of the {self.ndim} dims of {self.shape}")
        inverse = tuple(np.argsort([d % self.ndim for d in dims]))
        data = np.transpose(self.data, dims)
        return Tensor._from_op(data, (self,), lambda g: (np.transpose(g, inverse),), "permute")

    def transpose(self, dim0: int = -2, dim1: int = -1) -> Tensor:
        """Swap two dimensions (by default the last two)."""
        if self.ndim < 2:
            raise ValueError(f"transpose needs at least 2 dimensions, got shape {self.shape}")
        dims = list(range(self.ndim))
        dims[dim0], dims[dim1] = dims[dim1], dims[dim0]
        return self.permute(dims)

    def __getitem__(self, key) -> Tensor:
        a = self
        key = _index_key(key)
        data = a.data[key]
        advanced = _is_advanced(key)

        def backward(g):
            grad = np.zeros(a.shape, dtype=FLOAT)
            if advanced:
                np.add.at(grad, key, g)  # repeated indices accumulate
            else:
                grad[key] = g
            return (grad,)

        return Tensor._from_op(np.asarray(data, dtype=FLOAT), (a,), backward, "getitem")


def _index_key(key):
    """Turn Tensors inside an index into integer (or bool) arrays."""
    def convert(k):
        if isinstance(k, Tensor):
            k = k.data
        if isinstance(k, (list, np.ndarray)):
            k = np.asarray(k)
            if k.dtype != bool and not np.issubdtype(k.dtype, np.integer):
                if not np.all(np.equal(np.mod(k, 1), 0)):
                    raise IndexError(f"tensor index must hold integers or booleans, got {k.ravel()[:5]}")
                k = k.astype(np.int64)
        return k

    return tuple(convert(k) for k in key) if isinstance(key, tuple) else convert(key)


def _is_advanced(key) -> bool:
    keys = key if isinstance(key, tuple) else (key,)
    return any(isinstance(k, np.ndarray) for k in keys)


def matmul(a, b) -> Tensor:
    """Matrix product with numpy semantics (1-D operands, batched and broadcast leading dims)."""
    a, b = _as_tensor(a), _as_tensor(b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: operands need at least 1 dimension, got shapes {a.shape} and {b.shape}")
    if a.shape[-1] != b.shape[0 if b.ndim == 1 else -2]:
        raise ValueError(
            f"matmul: shapes {a.shape} and {b.shape} are not aligned: inner dimensions "
            f"{a.shape[-1]} (last of the first) and {b.shape[0 if b.ndim == 1 else -2]} "
            "(second-to-last of the second) must be equal"
        )
    try:
        data = np.matmul(a.data, b.data)
    except ValueError:
        raise ValueError(f"matmul: batch dims of {a.shape} and {b.shape} cannot be broadcast") from None

    def backward(g):
        A = a.data if a.ndim > 1 else a.data[None, :]
        B = b.data if b.ndim > 1 else b.data[:, None]
        G = g if b.ndim > 1 else g[..., None]  # restore the axes numpy dropped for 1-D operands
        G = G if a.ndim > 1 else G[..., None, :]
        ga = gb = None
        if a.requires_grad:
            ga = unbroadcast(np.matmul(G, np.swapaxes(B, -1, -2)), A.shape).reshape(a.shape)
        if b.requires_grad:
            if B.ndim == 2 and A.ndim > 2:  # shared weight: one big GEMM instead of a batch + sum
                gb = A.reshape(-1, A.shape[-1]).T @ G.reshape(-1, G.shape[-1])
            else:
                gb = unbroadcast(np.matmul(np.swapaxes(A, -1, -2), G), B.shape)
            gb = gb.reshape(b.shape)
        return ga, gb

    return Tensor._from_op(data, (a, b), backward, "matmul")


def concatenate(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    """Join tensors along an existing axis."""
    tensors = tuple(_as_tensor(t) for t in tensors)
    if not tensors:
        raise ValueError("concatenate: needs at least one tensor")
    try:
        data = np.concatenate([t.data for t in tensors], axis=axis)
    except ValueError as exc:
        shapes = [t.shape for t in tensors]
        raise ValueError(f"concatenate along axis {axis}: incompatible shapes {shapes} ({exc})") from None
    bounds = np.cumsum([t.shape[axis] for t in tensors])[:-1]
    return Tensor._from_op(data, tensors, lambda g: tuple(np.split(g, bounds, axis=axis)), "concatenate")


def stack(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    """Join same-shaped tensors along a new axis."""
    tensors = tuple(_as_tensor(t) for t in tensors)
    if not tensors:
        raise ValueError("stack: needs at least one tensor")
    shapes = {t.shape for t in tensors}
    if len(shapes) != 1:
        raise ValueError(f"stack: all tensors must have the same shape, got {[t.shape for t in tensors]}")
    data = np.stack([t.data for t in tensors], axis=axis)
    n = len(tensors)
    return Tensor._from_op(
        data, tensors, lambda g: tuple(np.take(g, i, axis=axis) for i in range(n)), "stack"
    )


cat = concatenate
