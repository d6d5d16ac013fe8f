"""Optimizers as the course defines them: SGD (momentum, weight decay), Adam (L2 decay), AdamW.

The arithmetic follows the course's formulas in the same order (so the same gradients give the
same float32 weights); updates are written into ``param.data`` in place. Parameters whose
``grad`` is None are skipped.
"""

from __future__ import annotations

import numpy as np

from tinytorch.core.tensor import Tensor  # noqa: F401 (a name the course's module imports)

DEFAULT_LEARNING_RATE_SGD = 0.01
DEFAULT_LEARNING_RATE_ADAM = 0.001
DEFAULT_MOMENTUM = 0.9
DEFAULT_BETA1 = 0.9
DEFAULT_BETA2 = 0.999
DEFAULT_EPS = 1e-8
DEFAULT_WEIGHT_DECAY_ADAMW = 0.01


def _grad_array(param) -> np.ndarray:
    """The gradient as an ndarray (also when someone stored a Tensor in ``.grad``)."""
    grad = param.grad
    return grad.data if hasattr(grad, "_grad_fn") else grad


class Optimizer:
    """Holds ``params`` (each must require grad) and counts steps in ``step_count``."""

    def __init__(self, params):
        params = params if isinstance(params, list) else list(params)
        for i, param in enumerate(params):
            if not param.requires_grad:
                raise ValueError(f"Parameter {i} does not require gradients. Set requires_grad=True.")
        self.params = params
        self.step_count = 0

    def zero_grad(self):
        for param in self.params:
            param.grad = None

    def step(self):
        raise NotImplementedError("Subclasses must implement step()")


class SGD(Optimizer):
    """g += weight_decay * p;  buf = momentum * buf + g (buf starts at 0);  p -= lr * buf."""

    def __init__(self, params, lr=DEFAULT_LEARNING_RATE_SGD, momentum=0.0, weight_decay=0.0):
        super().__init__(params)
        self.lr = lr
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.momentum_buffers = [None for _ in self.params]

    def has_momentum(self) -> bool:
        return self.momentum > 0

    def get_momentum_state(self):
        """Copies of the momentum buffers, or None without momentum."""
        if not self.has_momentum():
            return None
        return [None if buf is None else buf.copy() for buf in self.momentum_buffers]

    def set_momentum_state(self, state) -> None:
        """Restore buffers saved by ``get_momentum_state`` (ignored without momentum)."""
        if state is None or not self.has_momentum():
            return
        if len(state) != len(self.momentum_buffers):
            raise ValueError(f"State length {len(state)} doesn't match optimizer parameters "
                             f"{len(self.momentum_buffers)}")
        for i, buf in enumerate(state):
            if buf is not None:
                self.momentum_buffers[i] = buf.copy()

    def step(self):
        for i, param in enumerate(self.params):
            if param.grad is None:
                continue
            grad = _grad_array(param)
            if self.weight_decay != 0:
                grad = grad + self.weight_decay * param.data
            if self.momentum != 0:
                buf = self.momentum_buffers[i]
                buf = grad.copy() if buf is None else self.momentum * buf + grad
                self.momentum_buffers[i] = grad = buf
            param.data -= self.lr * grad
        self.step_count += 1


class Adam(Optimizer):
    """Bias-corrected moments; weight decay is added to the gradient (L2)."""

    def __init__(self, params, lr=DEFAULT_LEARNING_RATE_ADAM, betas=(DEFAULT_BETA1, DEFAULT_BETA2),
                 eps=DEFAULT_EPS, weight_decay=0.0):
        super().__init__(params)
        self.lr = lr
        self.beta1, self.beta2 = betas
        self.eps = eps
        self.weight_decay = weight_decay
        self.m_buffers = [None for _ in self.params]
        self.v_buffers = [None for _ in self.params]

    def _update(self, i: int, param, grad: np.ndarray) -> None:
        """p -= lr * m_hat / (sqrt(v_hat) + eps), the moments updated with ``grad``."""
        if self.m_buffers[i] is None:
            self.m_buffers[i] = np.zeros_like(param.data)
            self.v_buffers[i] = np.zeros_like(param.data)
        m, v = self.m_buffers[i], self.v_buffers[i]
        m *= self.beta1
        m += (1 - self.beta1) * grad
        v *= self.beta2
        v += (1 - self.beta2) * (grad * grad)
        m_hat = m / (1 - self.beta1 ** self.step_count)
        v_hat = v / (1 - self.beta2 ** self.step_count)
        param.data -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)

    def step(self):
        self.step_count += 1
        for i, param in enumerate(self.params):
            if param.grad is None:
                continue
            grad = _grad_array(param)
            if self.weight_decay != 0:
                grad = grad + self.weight_decay * param.data
            self._update(i, param, grad)


class AdamW(Adam):
    """Adam without L2 in the gradient; after each update ``p *= 1 - lr * weight_decay`` (course order)."""

    def __init__(self, params, lr=DEFAULT_LEARNING_RATE_ADAM, betas=(DEFAULT_BETA1, DEFAULT_BETA2),
                 eps=DEFAULT_EPS, weight_decay=DEFAULT_WEIGHT_DECAY_ADAMW):
        super().__init__(params, lr, betas, eps, weight_decay)

    def step(self):
        self.step_count += 1
        for i, param in enumerate(self.params):
            if param.grad is None:
                continue
            self._update(i, param, _grad_array(param))
            if self.weight_decay != 0:
                param.data *= 1 - self.lr * self.weight_decay
