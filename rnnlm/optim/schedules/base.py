"""What every learning-rate schedule shares: linear warm-up, then the schedule's own shape.

A schedule is one module of this package, registered in rnnlm/registry.py (SCHEDULES): a
subclass of Schedule, called with the 0-based step index (the number of steps already taken) and
returning that step's learning rate. During the first optim.warmup_steps steps the rate rises
linearly to the peak lr; after that a schedule gives either a shape over the training
(``after_warmup(progress)``, progress running from 0 at the end of warm-up to 1 at
train.max_steps) or a rate by step number (``lr_after_warmup(step)``, step counted from the
start of training).

Schedules that react to validation (plateau) override ``observe`` and keep what they learn in
``state_dict`` (flat {name: array}); run/checkpoints.py stores it under `sched/`.
"""

from rnnlm import backend


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
        return self.lr_after_warmup(step)

    def lr_after_warmup(self, step):
        span = max(self.max_steps - self.warmup_steps, 1)
        return self.after_warmup(min(max(step - self.warmup_steps, 0) / span, 1.0))

    def after_warmup(self, progress):
        raise NotImplementedError

    def observe(self, valid_loss):
        """A validation loss was measured. Returns a one-line note for the log, or None."""
        return None

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        pass


def scalar(value, dtype="float64"):
    """A 0-d host array for a state_dict entry (checkpoints hold arrays only)."""
    return backend.get().asarray(value, dtype=dtype)
