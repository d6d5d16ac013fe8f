"""Tensor: a float32 numpy array that records the ops applied to it, for reverse-mode autograd.

The course's ops (``+ - * /``, ``matmul``, indexing, ``reshape``, ``transpose``, ``sum``) record the
course's ``Function`` classes from ``tinytorch.core.autograd``; the other ops are built with
``Tensor._from_op(data, parents, backward, name)``, where ``backward(grad_out)`` returns one gradient
per parent (that parent's shape, or ``None``). Gradients passed to ``backward`` may be read-only
views: never modify them in place. Op results may share memory with their inputs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from tinytorch.core import autograd
from tinytorch.core.autograd import (
    AddBackward,
    DivBackward,
    FunctionBackward,
    MatmulBackward,
    MulBackward,
    PermuteBackward,
    ReshapeBackward,
    SliceBackward,
    SubBackward,
    SumBackward,
    TransposeBackward,
    sigmoid_array,
    unbroadcast,
)

BYTES_PER_FLOAT32 = 4
KB_TO_BYTES = 1024
MB_TO_BYTES = 1024 * 1024

FLOAT = np.float32

__all__ = ["Tensor", "matmul", "concatenate", "cat", "stack", "unbroadcast",
           "BYTES_PER_FLOAT32", "KB_TO_BYTES", "MB_TO_BYTES"]


def _as_array(value) -> np.ndarray:
    if isinstance(value, Tensor):
        return value.data
    array = np.asarray(value)
    return array if array.dtype == FLOAT else array.astype(FLOAT)


def _as_tensor(value) -> Tensor:
    return value if isinstance(value, Tensor) else Tensor(value)


def _records(*tensors: Tensor) -> bool:
    """Whether an op on ``tensors`` must record the graph."""
    return autograd._grad_enabled and any(t.requires_grad for t in tensors)


def _normalize_axes(axis, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    for a in axes:
        if not -ndim <= a < max(ndim, 1):
            raise ValueError(f"axis {a} is out of range for a tensor with {ndim} dimensions")
    return tuple(sorted(int(a) % max(ndim, 1) for a in axes))


def _broadcast(op: str, fn, a: Tensor, b: Tensor) -> np.ndarray:
    try:
        return fn(a.data, b.data)
    except ValueError:
        raise ValueError(
            f"{op}: shapes {a.shape} and {b.shape} cannot be broadcast together "
            "(each trailing dimension must match or be 1); reshape one operand first"
        ) from None


class Tensor:
    """An n-dimensional float32 array with gradient tracking."""

    __array_priority__ = 1000  # so that ndarray (op) Tensor defers to Tensor's reflected op

    def __init__(self, data, requires_grad=False):
        self._data = np.array(data.data if isinstance(data, Tensor) else data, dtype=FLOAT)
        self.requires_grad = bool(requires_grad)
        self.grad: np.ndarray | None = None
        self._grad_fn = None

    @classmethod
    def _wrap(cls, data) -> Tensor:
        """A tensor holding ``data`` without copying it and without a graph."""
        out = cls.__new__(cls)
        out._data = data if isinstance(data, np.ndarray) and data.dtype == FLOAT else _as_array(data)
        out.requires_grad = False
        out.grad = None
        out._grad_fn = None
        return out

    def _attach(self, grad_fn) -> Tensor:
        self.requires_grad = True
        self._grad_fn = grad_fn
        return self

    @classmethod
    def _from_op(
        cls,
        data: np.ndarray,
        parents: tuple[Tensor, ...],
        backward: Callable[[np.ndarray], tuple[np.ndarray | None, ...]],
        name: str,
    ) -> Tensor:
        """The result of a differentiable op; records the graph only when it is needed."""
        out = cls._wrap(data)
        if _records(*parents):
            out._attach(FunctionBackward(backward, name, *parents))
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
        return self._data.shape

    @property
    def size(self) -> int:
        return self._data.size

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    @property
    def T(self) -> Tensor:
        """Transpose of the last two dimensions."""
        return self.transpose()

    def __repr__(self) -> str:
        grad_info = f", requires_grad={self.requires_grad}" if self.requires_grad else ""
        return f"Tensor(data={self.data}, shape={self.shape}{grad_info})"

    def __str__(self) -> str:
        return f"Tensor({self.data})"

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
        return Tensor._wrap(self._data)

    def zero_grad(self) -> None:
        self.grad = None

    def backward(self, gradient=None) -> None:
        """Accumulate d(self)/d(t) into ``t.grad`` for every tensor ``t`` of the graph that requires grad.

        Does nothing when this tensor does not require grad (as the course). ``gradient`` defaults
        to 1 for a one-element tensor; other tensors need it (ValueError).
        """
        if not self.requires_grad:
            return
        if gradient is None:
            if self.size != 1:
                raise ValueError(
                    f"backward() called on a non-scalar tensor of shape {self.shape} without a gradient; "
                    "pass backward(gradient) of that shape or reduce with .sum()/.mean() first"
                )
            gradient = np.ones(self.shape, dtype=FLOAT)
        gradient = _as_array(gradient)
        if gradient.shape != self.shape:
            try:
                gradient = unbroadcast(gradient, self.shape)
            except (ValueError, IndexError):
                raise ValueError(f"backward(gradient): gradient shape {gradient.shape} does not fit "
                                 f"the tensor's shape {self.shape}") from None
        autograd.run_backward(self, gradient)

    # ------------------------------------------------------------ arithmetic
    def __add__(self, other) -> Tensor:
        a, b = self, _as_tensor(other)
        out = Tensor._wrap(_broadcast("add", np.add, a, b))
        return out._attach(AddBackward(a, b)) if _records(a, b) else out

    def __radd__(self, other) -> Tensor:
        return _as_tensor(other) + self

    def __sub__(self, other) -> Tensor:
        a, b = self, _as_tensor(other)
        out = Tensor._wrap(_broadcast("sub", np.subtract, a, b))
        return out._attach(SubBackward(a, b)) if _records(a, b) else out

    def __rsub__(self, other) -> Tensor:
        return _as_tensor(other) - self

    def __mul__(self, other) -> Tensor:
        a, b = self, _as_tensor(other)
        out = Tensor._wrap(_broadcast("mul", np.multiply, a, b))
        return out._attach(MulBackward(a, b)) if _records(a, b) else out

    def __rmul__(self, other) -> Tensor:
        return _as_tensor(other) * self

    def __truediv__(self, other) -> Tensor:
        a, b = self, _as_tensor(other)
        out = Tensor._wrap(_broadcast("div", np.divide, a, b))
        return out._attach(DivBackward(a, b)) if _records(a, b) else out

    def __rtruediv__(self, other) -> Tensor:
        return _as_tensor(other) / self

    def __neg__(self) -> Tensor:
        return Tensor._from_op(-self.data, (self,), lambda g: (-g,), "neg")

    def __pow__(self, exponent) -> Tensor:
        a = self
        if isinstance(exponent, Tensor):
            return (a.log() * exponent).exp()
        p = FLOAT(exponent)
        return Tensor._from_op(np.power(a.data, p), (a,),
                               lambda g: (g * p * np.power(a.data, p - 1),), f"pow{float(p):g}")

    def __rpow__(self, base) -> Tensor:
        return _as_tensor(base) ** self

    def __matmul__(self, other) -> Tensor:
        return matmul(self, other)

    def __rmatmul__(self, other) -> Tensor:
        return matmul(_as_tensor(other), self)

    def matmul(self, other) -> Tensor:
        return matmul(self, other)

    # ------------------------------------------------------------ comparisons (no grad)
    def __gt__(self, other) -> Tensor:
        return Tensor._wrap(np.greater(self.data, _as_array(other)))

    def __ge__(self, other) -> Tensor:
        return Tensor._wrap(np.greater_equal(self.data, _as_array(other)))

    def __lt__(self, other) -> Tensor:
        return Tensor._wrap(np.less(self.data, _as_array(other)))

    def __le__(self, other) -> Tensor:
        return Tensor._wrap(np.less_equal(self.data, _as_array(other)))

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
        data = sigmoid_array(self.data)
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
    def sum(self, axis=None, keepdims=False) -> Tensor:
        a = self
        axes = _normalize_axes(axis, a.ndim)
        out = Tensor._wrap(np.sum(a.data, axis=axes, keepdims=keepdims))
        if not _records(a):
            return out
        fn = SumBackward(a)
        fn.axis, fn.keepdims = axes, keepdims
        return out._attach(fn)

    def mean(self, axis=None, keepdims=False) -> Tensor:
        a = self
        axes = _normalize_axes(axis, a.ndim)
        count = int(np.prod([a.shape[i] for i in axes])) if a.ndim else 1
        data = np.mean(a.data, axis=axes, keepdims=keepdims)
        scale = FLOAT(1.0 / max(count, 1))

        def backward(g):
            return (np.broadcast_to(g if keepdims else np.expand_dims(g, axes), a.shape) * scale,)

        return Tensor._from_op(data, (a,), backward, "mean")

    def max(self, axis=None, keepdims=False) -> Tensor:
        """Maximum over ``axis``; the gradient is split evenly between tied maxima."""
        a = self
        axes = _normalize_axes(axis, a.ndim)
        if a.size == 0:
            raise ValueError(f"max() of an empty tensor (shape {a.shape})")
        kept = np.max(a.data, axis=axes, keepdims=True)
        data = kept if keepdims else kept.reshape([n for i, n in enumerate(a.shape) if i not in axes])

        def backward(g):
            is_max = a.data == kept
            share = is_max / is_max.sum(axis=axes, keepdims=True, dtype=FLOAT)
            return (np.broadcast_to(g if keepdims else np.expand_dims(g, axes), a.shape) * share,)

        return Tensor._from_op(data, (a,), backward, "max")

    # ------------------------------------------------------------ shape ops
    def reshape(self, *shape) -> Tensor:
        a = self
        shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        try:
            data = a.data.reshape(shape)
        except ValueError:
            raise ValueError(f"reshape: cannot reshape tensor of shape {a.shape} ({a.size} elements) "
                             f"into shape {shape}: total elements must match") from None
        out = Tensor._wrap(data)
        return out._attach(ReshapeBackward(a, a.shape)) if _records(a) else out

    view = reshape

    def flatten(self, start_dim: int = 0) -> Tensor:
        start = start_dim % max(self.ndim, 1)
        return self.reshape(self.shape[:start] + (-1,))

    def permute(self, *dims) -> Tensor:
        dims = tuple(dims[0]) if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims
        if sorted(d % self.ndim for d in dims) != list(range(self.ndim)):
            raise ValueError(f"permute: {dims} is not a permutation of the {self.ndim} dims of {self.shape}")
        dims = tuple(d % self.ndim for d in dims)
        out = Tensor._wrap(np.transpose(self.data, dims))
        return out._attach(PermuteBackward(self, dims)) if _records(self) else out

    def transpose(self, dim0=None, dim1=None) -> Tensor:
        """Swap ``dim0`` and ``dim1``; with neither given, the last two (a 0-D/1-D tensor is unchanged)."""
        if (dim0 is None) != (dim1 is None):
            raise ValueError("transpose: give both dim0 and dim1, or neither (the last two dims)")
        if dim0 is None and self.ndim < 2:
            data = self.data
        else:
            axes = list(range(self.ndim))
            d0, d1 = (-2, -1) if dim0 is None else (dim0, dim1)
            axes[d0], axes[d1] = axes[d1], axes[d0]
            data = np.transpose(self.data, axes)
        out = Tensor._wrap(data)
        return out._attach(TransposeBackward(self, dim0, dim1)) if _records(self) else out

    def __getitem__(self, key) -> Tensor:
        a = self
        key = _index_key(key)
        out = Tensor._wrap(np.asarray(a.data[key], dtype=FLOAT))
        return out._attach(SliceBackward(a, key)) if _records(a) else out


autograd.Tensor = Tensor  # the course's autograd module has Tensor in its namespace


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


def matmul(a, b) -> Tensor:
    """Matrix product with numpy semantics (1-D operands, batched and broadcast leading dims).

    A 0-D operand multiplies elementwise, as in the course.
    """
    a, b = _as_tensor(a), _as_tensor(b)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
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
    out = Tensor._wrap(data)
    return out._attach(MatmulBackward(a, b)) if _records(a, b) else out


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
    if len({t.shape for t in tensors}) != 1:
        raise ValueError(f"stack: all tensors must have the same shape, got {[t.shape for t in tensors]}")
    data = np.stack([t.data for t in tensors], axis=axis)
    n = len(tensors)
    return Tensor._from_op(
        data, tensors, lambda g: tuple(np.take(g, i, axis=axis) for i in range(n)), "stack"
    )


cat = concatenate
