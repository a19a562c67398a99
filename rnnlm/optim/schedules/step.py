"""step: the lr times gamma at each listed step (optim.milestones "1000,2000"), or, without a
list, times gamma every optim.step_size steps from optim.decay_start on:

    lr(s) = max(lr · gamma^k, min_lr),   k = number of milestones <= s
                                         or floor(max(s - decay_start, 0) / step_size)

s is the 0-based step index counted from the start of training (warm-up included), so with
milestones "1000" steps 0..999 use lr and steps 1000.. use lr·gamma.
"""

import bisect

from .base import Schedule


def parse_milestones(text):
    """"1000, 2000" -> (1000, 2000) (config/load.py has checked they increase)."""
    return tuple(int(part) for part in text.split(",") if part.strip())


class Step(Schedule):
    def __init__(self, base_lr, warmup_steps=0, max_steps=1, min_lr=0.0, gamma=0.5,
                 step_size=1000, decay_start=0, milestones=()):
        super().__init__(base_lr, warmup_steps, max_steps, min_lr)
        self.gamma, self.step_size, self.decay_start = gamma, step_size, decay_start
        self.milestones = tuple(milestones)

    @classmethod
    def from_config(cls, optim_cfg, max_steps):
        o = optim_cfg
        return cls(o.lr, o.warmup_steps, max_steps, o.min_lr, o.gamma, o.step_size,
                   o.decay_start, parse_milestones(o.milestones))

    def decays(self, step):
        if self.milestones:
            return bisect.bisect_right(self.milestones, step)
        return max(step - self.decay_start, 0) // self.step_size

    def lr_after_warmup(self, step):
        return max(self.base_lr * self.gamma ** self.decays(step), self.min_lr)
