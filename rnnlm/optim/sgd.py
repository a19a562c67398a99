"""sgd: θ ← θ - lr·d with d = g (plain), v (momentum) or g + μ·v (Nesterov), v ← μ·v + g.

Weight decay is decoupled: θ ← θ - lr·λ·θ, applied next to the step (for plain SGD this is the
same as adding λ·θ to the gradient; with momentum it keeps the decay out of the velocity).

Plain SGD updates a gradient with a row hint (``grads.rows``, nn/functional.py's Grads) on those
rows alone: the others' gradient is zero, so they would not move (the same floats).
"""

from rnnlm.backend import array_module, axpy

from .base import Optimizer


class SGD(Optimizer):
    moments = ("velocity",)

    def __init__(self, params, momentum=0.0, weight_decay=0.0, nesterov=False):
        if nesterov and not momentum:
            raise ValueError("Nesterov momentum needs momentum > 0")
        self.momentum, self.weight_decay, self.nesterov = momentum, weight_decay, nesterov
        self.velocity = {k: array_module(p).zeros_like(p) for k, p in params.items()} \
            if momentum else {}

    @classmethod
    def from_config(cls, params, optim_cfg):
        o = optim_cfg
        return cls(params, o.momentum, o.weight_decay, o.nesterov)

    def step(self, params, grads, lr):
        rows = getattr(grads, "rows", {}) if not (self.momentum or self.weight_decay) else {}
        for k, p in params.items():
            g = grads[k]
            if k in rows:  # p[r] -= lr·g[r] on the rows that can move, by the same axpy
                r = rows[k]
                p[r] = axpy(-lr, g[r], p[r])
                continue
            if self.momentum:
                v = self.velocity[k]
                v *= self.momentum
                v += g
                g = g + p.dtype.type(self.momentum) * v if self.nesterov else v
            if self.weight_decay:
                p *= p.dtype.type(1.0 - lr * self.weight_decay)
            axpy(-lr, g, p)  # p -= lr·g
