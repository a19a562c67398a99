"""rmsprop: a per-weight learning rate lr / sqrt(a running mean of squared gradients)
(Tieleman & Hinton; char-rnn trains with it, decay α = 0.95).

    g ← g + λ·θ                  (L2 weight decay, only when weight_decay > 0)
    s ← α·s + (1-α)·g²           (α = optim.alpha)
    θ ← θ - lr·g / (sqrt(s) + ε)

s starts at 0 and is not bias-corrected: the first steps are larger than lr (by 1/sqrt(1-α)
on step 1), as in char-rnn and PyTorch.
"""

from rnnlm.backend import array_module

from .base import Optimizer


class RMSprop(Optimizer):
    moments = ("square_avg",)

    def __init__(self, params, alpha=0.95, eps=1e-8, weight_decay=0.0):
        self.alpha, self.eps, self.weight_decay = alpha, eps, weight_decay
        self.square_avg = {k: array_module(p).zeros_like(p) for k, p in params.items()}

    @classmethod
    def from_config(cls, params, optim_cfg):
        o = optim_cfg
        return cls(params, o.alpha, o.eps, o.weight_decay)

    def step(self, params, grads, lr):
        for k, p in params.items():
            xp, dt = array_module(p), p.dtype.type
            g, s = grads[k], self.square_avg[k]
            if self.weight_decay:
                g = g + dt(self.weight_decay) * p
            s *= dt(self.alpha)
            s += dt(1.0 - self.alpha) * (g * g)
            p -= dt(lr) * g / (xp.sqrt(s) + dt(self.eps))
