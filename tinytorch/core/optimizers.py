"""Optimizers: SGD (momentum, weight decay), Adam (L2 weight decay) and AdamW (decoupled decay).

Updates are in place on ``param.data``; parameters whose ``grad`` is None are skipped.
"""

from __future__ import annotations

import math

import numpy as np


def _grad_array(p) -> np.ndarray:
    """The gradient as a float32 array (also when someone stored a Tensor in ``.grad``)."""
    return np.asarray(p.grad, dtype=np.float32)


class Optimizer:
    """Holds the parameter list; subclasses implement ``step``."""

    def __init__(self, params, lr: float):
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list; pass model.parameters()")
        if not lr > 0:
            raise ValueError(f"{type(self).__name__}: lr must be positive, got {lr}")
        self.lr = float(lr)

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """v = momentum * v + (g + weight_decay * p);  p -= lr * v  (v = g on the first step)."""

    def __init__(self, params, lr: float = 0.01, momentum: float = 0.0, weight_decay: float = 0.0):
        super().__init__(params, lr)
        self.momentum, self.weight_decay = float(momentum), float(weight_decay)
        self.velocity: list[np.ndarray | None] = [None] * len(self.params)

    def step(self) -> None:
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            g = _grad_array(p)
            if self.weight_decay:
                g = g + np.float32(self.weight_decay) * p.data
            if self.momentum:
                if self.velocity[i] is None:
                    self.velocity[i] = g.copy()
                else:
                    self.velocity[i] *= np.float32(self.momentum)
                    self.velocity[i] += g
                g = self.velocity[i]
            p.data -= np.float32(self.lr) * g


class Adam(Optimizer):
    """Adam with bias correction; ``weight_decay`` adds an L2 term to the gradient (as torch.optim.Adam)."""

    decoupled = False

    def __init__(self, params, lr: float = 0.001, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0):
        super().__init__(params, lr)
        self.beta1, self.beta2 = (float(b) for b in betas)
        self.eps, self.weight_decay = float(eps), float(weight_decay)
        self.m: list[np.ndarray | None] = [None] * len(self.params)
        self.v: list[np.ndarray | None] = [None] * len(self.params)
        self.steps = [0] * len(self.params)

    def step(self) -> None:
        f32 = np.float32
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            g = _grad_array(p)
            if self.weight_decay and self.decoupled:
                p.data *= f32(1.0 - self.lr * self.weight_decay)
            elif self.weight_decay:
                g = g + f32(self.weight_decay) * p.data
            if self.m[i] is None:
                self.m[i] = np.zeros_like(p.data)
                self.v[i] = np.zeros_like(p.data)
            m, v = self.m[i], self.v[i]
            self.steps[i] += 1
            t = self.steps[i]
            m *= f32(self.beta1)
            m += f32(1.0 - self.beta1) * g
            v *= f32(self.beta2)
            v += f32(1.0 - self.beta2) * (g * g)
            step_size = self.lr / (1.0 - self.beta1**t)
            denom = np.sqrt(v) / f32(math.sqrt(1.0 - self.beta2**t))
            denom += f32(self.eps)
            p.data -= f32(step_size) * (m / denom)


class AdamW(Adam):
    """Adam with decoupled weight decay: p *= (1 - lr * weight_decay) before the Adam update."""

    decoupled = True

    def __init__(self, params, lr: float = 0.001, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.01):
        super().__init__(params, lr, betas, eps, weight_decay)
