"""constant: the peak learning rate throughout (after warm-up)."""

from .base import Schedule


class Constant(Schedule):
    def after_warmup(self, progress):
        return self.base_lr
