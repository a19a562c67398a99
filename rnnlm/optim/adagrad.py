"""adagrad: a per-weight learning rate lr / sqrt(the sum of all squared gradients so far)
(Duchi et al.; the update of Karpathy's min-char-rnn).

    g ← g + λ·θ          (L2 weight decay, only when weight_decay > 0)
    G ← G + g²
    θ ← θ - lr·g / (sqrt(G) + ε)

ε (optim.eps) is added outside the square root; min-char-rnn adds 1e-8 inside, which differs
only while G is below about 1e-8.
"""

from rnnlm.backend import array_module

from .base import Optimizer


class Adagrad(Optimizer):
    moments = ("sum_squares",)

    def __init__(self, params, eps=1e-8, weight_decay=0.0):
        self.eps, self.weight_decay = eps, weight_decay
        self.sum_squares = {k: array_module(p).zeros_like(p) for k, p in params.items()}

    @classmethod
    def from_config(cls, params, optim_cfg):
        return cls(params, optim_cfg.eps, optim_cfg.weight_decay)

    def step(self, params, grads, lr):
        for k, p in params.items():
            xp, dt = array_module(p), p.dtype.type
            g, G = grads[k], self.sum_squares[k]
            if self.weight_decay:
                g = g + dt(self.weight_decay) * p
            G += g * g
            p -= dt(lr) * g / (xp.sqrt(G) + dt(self.eps))
