"""Optimization: clipping, optimizers and learning-rate schedules (one module each, registered in
rnnlm/registry.py). Imports only rnnlm.backend; every optimizer is a loop over the flat
{name: array} dicts of parameters and gradients, with a flat ``state_dict`` for checkpoints
(base.py: the interface, with the validation hooks ``observe`` and ``eval_params``).
"""

from rnnlm import registry

from .clip import clip_by_norm, clip_by_value, global_norm


def make_optimizer(optim_cfg, params):
    """The optimizer named by optim_cfg.name, reading its settings from optim_cfg."""
    return registry.load(registry.OPTIMIZERS, optim_cfg.name).from_config(params, optim_cfg)


def make_schedule(optim_cfg, max_steps):
    """The learning-rate schedule named by optim_cfg.schedule: a callable step -> lr, with
    observe(valid_loss) and state_dict (schedules/base.py)."""
    return registry.load(registry.SCHEDULES, optim_cfg.schedule).from_config(optim_cfg, max_steps)


def learning_rate(step, base_lr, schedule="constant", warmup_steps=0, max_steps=1, min_lr=0.0):
    """The learning rate of (0-based) step under a named schedule (a one-off: make_schedule keeps one)."""
    if schedule not in registry.SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}")
    cls = registry.load(registry.SCHEDULES, schedule)
    return cls(base_lr, warmup_steps, max_steps, min_lr)(step)


__all__ = ["clip_by_norm", "clip_by_value", "global_norm", "learning_rate", "make_optimizer",
           "make_schedule"]
