"""Keys that are valid one by one but make no sense together: one line naming the fix each.

load.py checks every key alone (type, range, choice) and then calls check_combinations on the
whole Config. (The adaptive head's cutoffs need the vocabulary size, so config/build.py checks
them.)
"""

import re

from rnnlm.errors import ConfigError


def check_combinations(cfg) -> None:
    """ConfigError for the first combination of keys that cannot work."""
    _check_data(cfg)
    _check_optim(cfg.optim)
    _check_recipe(cfg)


def _check_data(cfg) -> None:
    """Where the text comes from, and how it is split."""
    if cfg.data.valid_fraction + cfg.data.test_fraction >= 1.0:
        raise ConfigError("config keys 'data.valid_fraction' + 'data.test_fraction' must be < 1: lower them")
    if cfg.data.train and not cfg.data.valid:
        raise ConfigError("config key 'data.train' is set but 'data.valid' is not: set data.valid to the "
                          "validation text file (or drop data.train and use data.corpus with fractions)")
    if (cfg.data.valid or cfg.data.test) and not cfg.data.train:
        raise ConfigError("config key 'data.valid' or 'data.test' is set but 'data.train' is not: set "
                          "data.train to the training text file")


def _check_recipe(cfg) -> None:
    """Regularisation and BPTT keys that make no sense together: one line naming the fix."""
    m, t = cfg.model, cfg.train
    for key in ("dropout_embed", "dropout_layers", "dropout_output"):
        v = getattr(m, key)
        if v != -1.0 and v < 0:
            raise ConfigError(f"config key 'model.{key}' must be -1 (= model.dropout) or in [0, 1), "
                              f"got {v}")
    if m.tie_weights and m.embed_size != m.hidden_size:
        raise ConfigError(f"model.tie_weights needs model.embed_size == model.hidden_size (the output "
                          f"layer is the embedding transposed), got {m.embed_size} and {m.hidden_size}: "
                          "set both to one value")
    if m.tie_weights and m.head != "full":
        raise ConfigError(f"model.tie_weights ties the full softmax's weights to the embedding; "
                          f"model.head={m.head} has no such matrix: set model.head=full or "
                          "model.tie_weights=false")
    if t.bptt_mode == "k1k2" and (t.k2 or t.bptt) < t.k1:
        raise ConfigError(f"train.k2 ({t.k2 or t.bptt}{'' if t.k2 else ' = train.bptt'}) must be >= "
                          f"train.k1 ({t.k1}): each update backpropagates through at least its own "
                          "k1 new tokens")


def _check_optim(o) -> None:
    """Optimizer and schedule keys that make no sense together: one line naming the fix."""
    if o.min_lr > o.lr:
        raise ConfigError(f"config key 'optim.min_lr' ({o.min_lr}) must not exceed 'optim.lr' "
                          f"({o.lr}): lower optim.min_lr")
    if o.nesterov and (o.momentum == 0 or o.name not in ("sgd", "ntasgd")):
        raise ConfigError(f"config key 'optim.nesterov' needs optim.name sgd or ntasgd with "
                          f"optim.momentum > 0 (got {o.name}, momentum {o.momentum}): set "
                          "optim.momentum=0.9 or drop optim.nesterov")
    if not o.milestones.strip():
        return
    if o.schedule != "step":
        raise ConfigError(f"config key 'optim.milestones' is read only by optim.schedule=step (got "
                          f"{o.schedule!r}): set optim.schedule=step or drop optim.milestones")
    parts = [p.strip() for p in o.milestones.split(",")]
    steps = [int(p) for p in parts if re.fullmatch(r"\d+", p)]
    if len(steps) != len(parts) or 0 in steps or any(a >= b for a, b in zip(steps, steps[1:])):
        raise ConfigError(f"config key 'optim.milestones' must be positive steps in increasing order, "
                          f"comma-separated like \"1000,2000\"; got {o.milestones!r}")
