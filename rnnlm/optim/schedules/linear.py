"""linear: a straight line from the peak lr down to min_lr at train.max_steps."""

from .base import Schedule


class Linear(Schedule):
    def after_warmup(self, progress):
        return self.base_lr + (self.min_lr - self.base_lr) * progress
