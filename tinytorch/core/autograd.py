"""Reverse-mode autograd: grad mode switch and the backward engine.

Every differentiable op records its parents and a ``backward(grad_out)`` closure on the
output Tensor (see ``Tensor._from_op``). ``run_backward`` walks that graph once, in reverse
topological order, summing gradients per node; leaves that require grad receive ``.grad``.
"""

from __future__ import annotations

import functools

import numpy as np

_grad_enabled = True


def is_grad_enabled() -> bool:
    """True when new ops record the graph (the default)."""
    return _grad_enabled


def enable_autograd() -> None:
    """Kept for the course API: autograd is always on in this package, so this does nothing."""


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


def _topological_order(root) -> list:
    """Nodes reachable from ``root`` ordered so that every node comes after its parents.

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
        for parent in node._parents:
            if id(parent) not in visited and parent.requires_grad:
                stack.append((parent, False))
    return order


def run_backward(root, grad: np.ndarray) -> None:
    """Propagate ``grad`` (d out / d root) to every leaf of ``root``'s graph that requires grad."""
    grads = {id(root): grad}
    for node in reversed(_topological_order(root)):
        node_grad = grads.pop(id(node), None)
        if node_grad is None:
            continue
        if node._backward is None or node._retains_grad:
            _accumulate_into_leaf(node, node_grad)
        if node._backward is None:
            continue
        parent_grads = node._backward(node_grad)
        if len(parent_grads) != len(node._parents):
            raise RuntimeError(
                f"backward of op '{node._op}' returned {len(parent_grads)} gradients for "
                f"{len(node._parents)} parents; return one gradient (or None) per parent"
            )
        for parent, parent_grad in zip(node._parents, parent_grads, strict=True):
            if parent_grad is None or not parent.requires_grad:
                continue
            parent_grad = _check_grad(parent_grad, parent, node._op)
            key = id(parent)
            grads[key] = parent_grad if key not in grads else grads[key] + parent_grad


def _check_grad(grad, parent, op: str) -> np.ndarray:
    grad = np.asarray(grad)
    if grad.shape != parent.data.shape:
        raise RuntimeError(
            f"backward of op '{op}' returned a gradient of shape {grad.shape} for a parent of shape "
            f"{parent.data.shape}; use tinytorch.core.tensor.unbroadcast(grad, parent.shape)"
        )
    if grad.dtype != np.float32:
        grad = grad.astype(np.float32)
    return grad


def _accumulate_into_leaf(node, grad: np.ndarray) -> None:
    # Always store a fresh array: the same grad object may be shared by several parents.
    if node.grad is None:
        node.grad = np.array(grad, dtype=np.float32, copy=True)
    else:
        node.grad = node.grad + grad
