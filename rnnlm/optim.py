"""Gradient clipping, optimizers (SGD with momentum, Adam/AdamW) and learning-rate schedules.

Every function is a loop over the flat {name: array} dicts of parameters and gradients. Optimizer
state is a flat dict of arrays too (``state_dict``), so a checkpoint stores it as plain npz arrays.
"""

import math

import numpy as np


def global_norm(grads):
    """‖g‖ over every element of every gradient (float64 accumulation)."""
    return math.sqrt(sum(float(np.dot(g.reshape(-1), g.reshape(-1))) for g in grads.values()))


def clip_by_norm(grads, max_norm, norm=None):
    """Scale all gradients together so their global norm is at most max_norm (0 = off).

    In place. ``norm`` is the global norm if already known. Returns (norm before, norm after,
    whether clipping fired).
    """
    norm = global_norm(grads) if norm is None else norm
    if max_norm > 0 and norm > max_norm:
        scale = max_norm / (norm + 1e-12)
        for g in grads.values():
            g *= g.dtype.type(scale)
        return norm, norm * scale, True
    return norm, norm, False


def clip_by_value(grads, max_value):
    """Clamp every element to [-max_value, max_value] (0 = off), in place. Returns whether any was."""
    if max_value <= 0:
        return False
    fired = False
    for g in grads.values():
        fired = fired or bool(np.any(np.abs(g) > max_value))
        np.clip(g, -max_value, max_value, out=g)
    return fired


class SGD:
    """θ ← θ - lr·v, v ← μ·v + g (plain SGD when momentum μ = 0); decoupled weight decay."""

    def __init__(self, params, momentum=0.0, weight_decay=0.0):
        self.momentum, self.weight_decay = momentum, weight_decay
        self.velocity = {k: np.zeros_like(p) for k, p in params.items()} if momentum else {}

    def step(self, params, grads, lr):
        for k, p in params.items():
            g = grads[k]
            if self.momentum:
                v = self.velocity[k]
                v *= self.momentum
                v += g
                g = v
            if self.weight_decay:
                p -= p.dtype.type(lr * self.weight_decay) * p
            p -= p.dtype.type(lr) * g

    def state_dict(self):
        return {f"velocity.{k}": v for k, v in self.velocity.items()}

    def load_state_dict(self, state):
        for k in self.velocity:
            self.velocity[k][...] = state[f"velocity.{k}"]


class Adam:
    """Adam with bias correction; weight decay decoupled from the gradient (AdamW)."""

    def __init__(self, params, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
        self.beta1, self.beta2, self.eps, self.weight_decay = beta1, beta2, eps, weight_decay
        self.m = {k: np.zeros_like(p) for k, p in params.items()}
        self.v = {k: np.zeros_like(p) for k, p in params.items()}
        self.t = 0

    def step(self, params, grads, lr):
        self.t += 1
        b1, b2 = self.beta1, self.beta2
        # Bias corrections folded into one step size: lr·sqrt(1-b2^t)/(1-b1^t).
        step = lr * math.sqrt(1.0 - b2 ** self.t) / (1.0 - b1 ** self.t)
        eps = self.eps * math.sqrt(1.0 - b2 ** self.t)
        for k, p in params.items():
            g, m, v = grads[k], self.m[k], self.v[k]
            dt = p.dtype.type
            m *= dt(b1)
            m += dt(1.0 - b1) * g
            v *= dt(b2)
            v += dt(1.0 - b2) * (g * g)
            if self.weight_decay:
                p -= dt(lr * self.weight_decay) * p
            p -= dt(step) * m / (np.sqrt(v) + dt(eps))

    def state_dict(self):
        state = {"t": np.array(self.t, np.int64)}
        state.update({f"m.{k}": a for k, a in self.m.items()})
        state.update({f"v.{k}": a for k, a in self.v.items()})
        return state

    def load_state_dict(self, state):
        self.t = int(state["t"])
        for k in self.m:
            self.m[k][...] = state[f"m.{k}"]
            self.v[k][...] = state[f"v.{k}"]


def make_optimizer(name, params, momentum=0.0, beta1=0.9, beta2=0.999, eps=1e-8,
                   weight_decay=0.0):
    if name == "sgd":
        return SGD(params, momentum, weight_decay)
    if name == "adam":
        return Adam(params, beta1, beta2, eps, weight_decay)
    raise ValueError(f"unknown optimizer {name!r}")


def learning_rate(step, base_lr, schedule="constant", warmup_steps=0, max_steps=1, min_lr=0.0):
    """The learning rate for (0-based) step: linear warm-up, then constant, cosine or linear decay."""
    if warmup_steps and step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    if schedule == "constant":
        return base_lr
    span = max(max_steps - warmup_steps, 1)
    progress = min(max(step - warmup_steps, 0) / span, 1.0)
    if schedule == "cosine":
        return min_lr + (base_lr - min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))
    if schedule == "linear":
        return base_lr + (min_lr - base_lr) * progress
    raise ValueError(f"unknown schedule {schedule!r}")
