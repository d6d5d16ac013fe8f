"""Reverse-mode autograd: the course's ``Function`` classes, grad mode and the backward engine.

Every differentiable op stores a ``Function`` as ``out._grad_fn``: its ``saved_tensors`` are the
op's inputs and ``apply(grad_output)`` returns one gradient per saved tensor (``None`` where there
is none). ``run_backward`` walks that graph once in reverse topological order; every tensor it
reaches that requires grad gets ``.grad`` (float32 ndarray), intermediates included, as in the
course. Gradients of broadcast inputs are summed back to the input's shape by the engine.
"""

from __future__ import annotations

import functools

import numpy as np

EPSILON = 1e-7  # the course's clamp for probabilities (BCE)

_grad_enabled = True


def is_grad_enabled() -> bool:
    """True when new ops record the graph (the default; ``no_grad`` switches it off)."""
    return _grad_enabled


def enable_autograd(quiet=False):
    """Course API. Autograd is built into ``Tensor`` here and always on, so this does nothing."""


class no_grad:
    """Context manager (and decorator) that stops ops from recording the graph."""

    def __enter__(self) -> no_grad:
        global _grad_enabled
        self._previous = _grad_enabled
        _grad_enabled = False
        return self

    def __exit__(self, *exc_info) -> None:
        global _grad_enabled
        _grad_enabled = self._previous

    def __call__(self, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with no_grad():
                return func(*args, **kwargs)

        return wrapper


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


def sigmoid_array(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)) without overflow warnings for large |x|."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


def _wants_grad(t) -> bool:
    return getattr(t, "requires_grad", False)


def _value(x):
    return x.data if hasattr(x, "_grad_fn") else x


class Function:
    """Base of every differentiable op: remembers its inputs and maps d(out) to d(inputs)."""

    def __init__(self, *tensors):
        self.saved_tensors = tensors
        self.next_functions = [t._grad_fn for t in tensors
                               if _wants_grad(t) and getattr(t, "_grad_fn", None) is not None]

    def apply(self, grad_output):
        """One gradient per saved tensor, for the gradient ``grad_output`` of the op's output."""
        raise NotImplementedError("Each Function must implement apply() method")


class AddBackward(Function):
    """z = a + b: both inputs receive the output gradient."""

    def apply(self, grad_output):
        a, b = self.saved_tensors
        return (grad_output if _wants_grad(a) else None, grad_output if _wants_grad(b) else None)


class SubBackward(Function):
    """z = a - b."""

    def apply(self, grad_output):
        a, b = self.saved_tensors
        return (grad_output if _wants_grad(a) else None, -grad_output if _wants_grad(b) else None)


class MulBackward(Function):
    """z = a * b: each input receives the gradient times the other input."""

    def apply(self, grad_output):
        a, b = self.saved_tensors
        return (grad_output * _value(b) if _wants_grad(a) else None,
                grad_output * _value(a) if _wants_grad(b) else None)


class DivBackward(Function):
    """z = a / b: d/da = 1/b, d/db = -a/b^2."""

    def apply(self, grad_output):
        a, b = self.saved_tensors
        bv = _value(b)
        return (grad_output / bv if _wants_grad(a) else None,
                -grad_output * _value(a) / (bv * bv) if _wants_grad(b) else None)


class MatmulBackward(Function):
    """Z = A @ B: dA = dZ @ B^T, dB = A^T @ dZ (batched, with numpy's 1-D rules)."""

    def apply(self, grad_output):
        a, b = self.saved_tensors
        A = a.data if a.data.ndim > 1 else a.data[None, :]
        B = b.data if b.data.ndim > 1 else b.data[:, None]
        G = grad_output if b.data.ndim > 1 else grad_output[..., None]  # restore dropped 1-D axes
        G = G if a.data.ndim > 1 else G[..., None, :]
        grad_a = grad_b = None
        if _wants_grad(a):
            grad_a = unbroadcast(np.matmul(G, np.swapaxes(B, -1, -2)), A.shape).reshape(a.shape)
        if _wants_grad(b):
            if B.ndim == 2 and A.ndim > 2:  # a shared weight: one big GEMM instead of a batch + sum
                grad_b = A.reshape(-1, A.shape[-1]).T @ G.reshape(-1, G.shape[-1])
            else:
                grad_b = unbroadcast(np.matmul(np.swapaxes(A, -1, -2), G), B.shape)
            grad_b = grad_b.reshape(b.shape)
        return grad_a, grad_b


class TransposeBackward(Function):
    """Y = X.transpose(dim0, dim1) (both None: the last two dims): transpose the gradient back."""

    def __init__(self, tensor, dim0, dim1):
        super().__init__(tensor)
        self.dim0, self.dim1 = dim0, dim1

    def apply(self, grad_output):
        if grad_output.ndim < 2:
            return (grad_output,)
        axes = list(range(grad_output.ndim))
        d0, d1 = (-2, -1) if self.dim0 is None else (self.dim0, self.dim1)
        axes[d0], axes[d1] = axes[d1], axes[d0]
        return (np.transpose(grad_output, axes),)


class PermuteBackward(Function):
    """Y = X permuted by ``axes``: the gradient is permuted by the inverse permutation."""

    def __init__(self, tensor, axes):
        super().__init__(tensor)
        self.axes = tuple(axes)
        self.inverse_axes = tuple(np.argsort(self.axes))

    def apply(self, grad_output):
        return (np.transpose(grad_output, self.inverse_axes),)


class EmbeddingBackward(Function):
    """Y = weight[indices]: scatter-add the gradient rows back (repeated ids accumulate)."""

    def __init__(self, weight, indices):
        super().__init__(weight)
        self.indices = indices

    def apply(self, grad_output):
        (weight,) = self.saved_tensors
        ids = np.asarray(_value(self.indices)).astype(np.int64).reshape(-1)
        rows = grad_output.reshape(-1, weight.data.shape[-1])
        grad = np.zeros(weight.data.shape, dtype=np.float32)
        np.add.at(grad, ids, rows)
        return (grad,)


class SliceBackward(Function):
    """Y = X[key]: the gradient goes back to the selected positions (repeats accumulate)."""

    def __init__(self, tensor, key):
        super().__init__(tensor)
        self.key = key
        self.original_shape = tensor.shape

    def apply(self, grad_output):
        grad = np.zeros(self.original_shape, dtype=np.float32)
        keys = self.key if isinstance(self.key, tuple) else (self.key,)
        if any(isinstance(k, np.ndarray) for k in keys):
            np.add.at(grad, self.key, grad_output)
        else:
            grad[self.key] = grad_output
        return (grad,)


class ReshapeBackward(Function):
    """Y = X.reshape(...): reshape the gradient back."""

    def __init__(self, tensor, original_shape):
        super().__init__(tensor)
        self.original_shape = tuple(original_shape)

    def apply(self, grad_output):
        return (grad_output.reshape(self.original_shape),)


class SumBackward(Function):
    """y = x.sum(axis, keepdims): every summed element receives the output gradient."""

    axis = None  # set by Tensor.sum (the course's SumBackward sums everything)
    keepdims = False

    def apply(self, grad_output):
        (x,) = self.saved_tensors
        return (_expand_reduced(grad_output, self.axis, self.keepdims, x.data.shape),)


def _expand_reduced(grad: np.ndarray, axis, keepdims: bool, shape) -> np.ndarray:
    """Broadcast the gradient of a reduction over ``axis`` back to the input ``shape``."""
    if not keepdims and axis is not None:
        grad = np.expand_dims(grad, axis)
    return np.broadcast_to(grad, shape)


class ReLUBackward(Function):
    """relu: the gradient passes where the input was positive."""

    def __init__(self, input_tensor):
        super().__init__(input_tensor)

    def apply(self, grad_output):
        (x,) = self.saved_tensors
        return (grad_output * (x.data > 0),)


class SigmoidBackward(Function):
    """sigmoid: s * (1 - s) from the saved output s."""

    def __init__(self, input_tensor, output_tensor):
        super().__init__(input_tensor)
        self.output_data = output_tensor.data

    def apply(self, grad_output):
        s = self.output_data
        return (grad_output * s * (1 - s),)


class SoftmaxBackward(Function):
    """softmax along ``dim``: s * (g - sum(g * s))."""

    def __init__(self, input_tensor, output_tensor, dim=-1):
        super().__init__(input_tensor)
        self.output_data = output_tensor.data
        self.dim = dim

    def apply(self, grad_output):
        s = self.output_data
        return (s * (grad_output - (grad_output * s).sum(axis=self.dim, keepdims=True)),)


GELU_SIGMOID_SCALE = 1.702  # the course's GELU: x * sigmoid(1.702 x)


class GELUBackward(Function):
    """GELU as the course computes it, x * sigmoid(1.702 x): s + 1.702 x s (1 - s)."""

    def __init__(self, input_tensor):
        super().__init__(input_tensor)

    def apply(self, grad_output):
        (x,) = self.saved_tensors
        v = x.data
        s = sigmoid_array(np.float32(GELU_SIGMOID_SCALE) * v)
        return (grad_output * (s + np.float32(GELU_SIGMOID_SCALE) * v * s * (1 - s)),)


class MSEBackward(Function):
    """mean((p - t)^2): 2 (p - t) / N."""

    def __init__(self, predictions, targets):
        super().__init__(predictions)
        self.targets_data = _value(targets)

    def apply(self, grad_output):
        (p,) = self.saved_tensors
        diff = p.data - self.targets_data
        return (grad_output * np.float32(2.0 / max(diff.size, 1)) * diff,)


class BCEBackward(Function):
    """Binary cross-entropy on probabilities clamped to [EPSILON, 1 - EPSILON]: (p - y) / (p (1 - p) N)."""

    def __init__(self, predictions, targets):
        super().__init__(predictions)
        self.targets_data = _value(targets)

    def apply(self, grad_output):
        (pred,) = self.saved_tensors
        p = np.clip(pred.data, np.float32(EPSILON), np.float32(1 - EPSILON))
        y = self.targets_data
        return (grad_output * (p - y) / (p * (1 - p) * np.float32(max(np.size(y), 1))),)


class CrossEntropyBackward(Function):
    """Cross-entropy of (N, C) logits and class ids: (softmax - one_hot) / N."""

    def __init__(self, logits, targets):
        super().__init__(logits)
        self.targets_data = np.asarray(_value(targets)).astype(np.int64).reshape(-1)
        self.batch_size, self.num_classes = logits.data.shape

    def apply(self, grad_output):
        (logits,) = self.saved_tensors
        z = logits.data - logits.data.max(axis=1, keepdims=True)
        probs = np.exp(z)
        probs /= probs.sum(axis=1, keepdims=True)
        probs[np.arange(self.batch_size), self.targets_data] -= 1
        return (probs / np.float32(self.batch_size) * grad_output,)


class FunctionBackward(Function):
    """Gradient of an op given as a closure ``backward(grad) -> one gradient per input``."""

    def __init__(self, backward, name, *tensors):
        super().__init__(*tensors)
        self.backward, self.name = backward, name

    def apply(self, grad_output):
        grads = self.backward(grad_output)
        if len(grads) != len(self.saved_tensors):
            raise RuntimeError(
                f"backward of op '{self.name}' returned {len(grads)} gradients for "
                f"{len(self.saved_tensors)} inputs; return one gradient (or None) per input"
            )
        return grads


def _topological_order(root) -> list:
    """Tensors reachable from ``root`` (through inputs that require grad), parents before children.

    Iterative depth-first search, so graphs thousands of ops deep do not hit the recursion limit.
    """
    order, visited = [], set()
    stack = [(root, False)]
    while stack:
        node, parents_done = stack.pop()
        if parents_done:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        if node._grad_fn is not None:
            for parent in node._grad_fn.saved_tensors:
                if _wants_grad(parent) and id(parent) not in visited:
                    stack.append((parent, False))
    return order


def run_backward(root, grad: np.ndarray) -> None:
    """Propagate ``grad`` (d out / d root) through ``root``'s graph, accumulating ``.grad`` on the way."""
    pending = {id(root): grad}
    for node in reversed(_topological_order(root)):
        node_grad = pending.pop(id(node), None)
        if node_grad is None:
            continue
        _accumulate(node, node_grad)
        fn = node._grad_fn
        if fn is None:
            continue
        # zip like the course: a Function may return a trailing None for an input it did not save
        for parent, parent_grad in zip(fn.saved_tensors, fn.apply(node_grad), strict=False):
            if parent_grad is None or not _wants_grad(parent):
                continue
            parent_grad = _fit(parent_grad, parent, fn)
            key = id(parent)
            pending[key] = parent_grad if key not in pending else pending[key] + parent_grad


def _fit(grad, parent, fn) -> np.ndarray:
    """``grad`` as a float32 array of the parent's shape (summing broadcast axes, as the course)."""
    grad = np.asarray(grad)
    if grad.shape != parent.data.shape:
        try:
            grad = unbroadcast(grad, parent.data.shape)
        except (ValueError, IndexError):
            raise RuntimeError(
                f"{type(fn).__name__} ({getattr(fn, 'name', '')}) returned a gradient of shape "
                f"{grad.shape} for an input of shape {parent.data.shape}"
            ) from None
    return grad if grad.dtype == np.float32 else grad.astype(np.float32)


def _accumulate(node, grad: np.ndarray) -> None:
    # A leaf gets its own writable copy (the same array may be shared by several inputs).
    if node.grad is not None:
        node.grad = node.grad + grad
    elif node._grad_fn is None:
        node.grad = np.array(grad, dtype=np.float32, copy=True)
    else:
        node.grad = grad
