"""cosine: half a cosine from the peak lr down to min_lr at train.max_steps."""

import math

from .base import Schedule


class Cosine(Schedule):
    def after_warmup(self, progress):
        return self.min_lr + (self.base_lr - self.min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))
