"""exponential: the lr times gamma per optim.step_size steps, smoothly, from optim.decay_start:

    lr(s) = max(lr · gamma^(max(s - decay_start, 0) / step_size), min_lr)

With step_size 1 that is ×gamma every step; with step_size N the rate falls continuously and
reaches ×gamma after N steps (`step` with the same keys makes it a staircase).
"""

from .base import Schedule


class Exponential(Schedule):
    def __init__(self, base_lr, warmup_steps=0, max_steps=1, min_lr=0.0, gamma=0.5,
                 step_size=1000, decay_start=0):
        super().__init__(base_lr, warmup_steps, max_steps, min_lr)
        self.gamma, self.step_size, self.decay_start = gamma, step_size, decay_start

    @classmethod
    def from_config(cls, optim_cfg, max_steps):
        o = optim_cfg
        return cls(o.lr, o.warmup_steps, max_steps, o.min_lr, o.gamma, o.step_size,
                   o.decay_start)

    def lr_after_warmup(self, step):
        exponent = max(step - self.decay_start, 0) / self.step_size
        return max(self.base_lr * self.gamma ** exponent, self.min_lr)
