"""What every learning-rate schedule shares: linear warm-up, then the schedule's own shape.

A schedule is one module of this package, registered in rnnlm/registry.py (SCHEDULES): a
subclass of Schedule that implements ``after_warmup(progress)``, progress running from 0 at the
end of warm-up to 1 at train.max_steps. Schedules that react to validation (later: plateau)
override ``observe`` and keep what they learn in ``state_dict`` for the checkpoint.
"""


class Schedule:
    def __init__(self, base_lr, warmup_steps=0, max_steps=1, min_lr=0.0):
        self.base_lr, self.warmup_steps = base_lr, warmup_steps
        self.max_steps, self.min_lr = max_steps, min_lr

    @classmethod
    def from_config(cls, optim_cfg, max_steps):
        o = optim_cfg
        return cls(o.lr, o.warmup_steps, max_steps, o.min_lr)

    def __call__(self, step):
        """The learning rate of (0-based) step."""
        if self.warmup_steps and step < self.warmup_steps:
            return self.base_lr * (step + 1) / self.warmup_steps
        span = max(self.max_steps - self.warmup_steps, 1)
        return self.after_warmup(min(max(step - self.warmup_steps, 0) / span, 1.0))

    def after_warmup(self, progress):
        raise NotImplementedError

    def observe(self, valid_loss):
        """A validation loss was measured (schedules that react to it override this)."""

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        pass
