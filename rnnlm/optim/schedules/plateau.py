"""plateau: divide the lr by optim.factor when validation has not improved for optim.patience
evaluations in a row (never below min_lr; once there, it stays silent).

An evaluation is a stall when its loss is not below the best loss so far (>= best, not
> the previous one): comparing with the best means a run that oscillates — worse, slightly
better, worse — still counts as stalled, and it is the rule that marks best.npz, so "(best)" in
the log and "no stall" are the same thing. A NaN or inf loss is a stall. After each reduction
the count starts again. Mikolov's halve-on-stall is factor 2, patience 1; PyTorch's
word_language_model divides by 4 on each stall: factor 4, patience 1.

The scale (the product of all reductions), the best loss and the stall count are in
``state_dict``; warm-up, when set, rises to the unscaled lr.
"""

import math

from .base import Schedule, scalar


class Plateau(Schedule):
    def __init__(self, base_lr, warmup_steps=0, max_steps=1, min_lr=0.0, factor=2.0,
                 patience=1):
        super().__init__(base_lr, warmup_steps, max_steps, min_lr)
        self.factor, self.patience = factor, patience
        self.scale = 1.0
        self.best = None  # best validation loss so far
        self.stalls = 0  # evaluations in a row without a new best, since the last reduction

    @classmethod
    def from_config(cls, optim_cfg, max_steps):
        o = optim_cfg
        return cls(o.lr, o.warmup_steps, max_steps, o.min_lr, o.factor, o.patience)

    def lr_after_warmup(self, step):
        return max(self.base_lr * self.scale, self.min_lr)

    def observe(self, valid_loss):
        if math.isfinite(valid_loss) and (self.best is None or valid_loss < self.best):
            self.best, self.stalls = valid_loss, 0
            return None
        self.stalls += 1
        if self.stalls < self.patience:
            return None
        self.stalls = 0
        if self.base_lr * self.scale <= self.min_lr:  # already at the floor: nothing to say
            return None
        self.scale /= self.factor
        return (f"plateau: no improvement on {self.best:.4f} for {self.patience} evaluation(s); "
                f"lr divided by {self.factor:g}, now {self.lr_after_warmup(0):.4g}")

    def state_dict(self):
        return {"scale": scalar(self.scale), "stalls": scalar(self.stalls, "int64"),
                "best": scalar(0.0 if self.best is None else self.best),
                "has_best": scalar(self.best is not None, "int64")}

    def load_state_dict(self, state):
        self.scale = float(state["scale"])
        self.stalls = int(state["stalls"])
        self.best = float(state["best"]) if int(state["has_best"]) else None
