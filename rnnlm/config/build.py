"""Config -> the objects a run is made of: the model spec, its init, the optimizer, the schedule,
the tokenizer. The one place where a config's keys are read into the math's arguments; every
other module takes these objects (gradcheck and bench derive theirs with dataclasses.replace).
"""

import numpy as np

from rnnlm.data.tokenizers import make_tokenizer
from rnnlm.errors import ConfigError
from rnnlm.nn.cells import get_cell
from rnnlm.model import InitSpec, ModelSpec
from rnnlm.optim import make_optimizer, make_schedule


def model_spec(cfg, vocab_size) -> ModelSpec:
    m = cfg.model
    own = (lambda rate: None if rate < 0 else rate)  # -1: model.dropout
    return ModelSpec(cell=m.cell, vocab_size=vocab_size, embed_size=m.embed_size,
                     hidden_size=m.hidden_size, layers=m.layers, dropout=m.dropout,
                     dropout_embed=own(m.dropout_embed), dropout_layers=own(m.dropout_layers),
                     dropout_output=own(m.dropout_output), dropout_locked=m.dropout_locked,
                     dropout_words=m.dropout_words, weight_drop=m.weight_drop,
                     tie_weights=m.tie_weights, ar=m.ar, tar=m.tar, head=m.head,
                     adaptive_cutoffs=adaptive_cutoffs(m, vocab_size))


def adaptive_cutoffs(m, vocab_size) -> tuple:
    """model.adaptive_cutoffs "2000,6000" -> (2000, 6000), checked against the vocabulary size
    (only read for the adaptive head)."""
    if m.head != "adaptive":
        return ()
    text = str(m.adaptive_cutoffs).replace(" ", "")
    try:
        cuts = tuple(int(c) for c in text.split(",")) if text else ()
    except ValueError:
        cuts = None
    if not cuts or cuts[0] <= 0 or cuts[-1] >= vocab_size or list(cuts) != sorted(set(cuts)):
        raise ConfigError(f"model.adaptive_cutoffs is {m.adaptive_cutoffs!r}: the adaptive head "
                          f"needs increasing ids between 1 and {vocab_size - 1} (the vocabulary "
                          f"has {vocab_size}), comma-separated, e.g. "
                          f"'{max(1, vocab_size // 5)},{max(2, vocab_size * 3 // 5)}'")
    return cuts


def init_spec(cfg) -> InitSpec:
    m = cfg.model
    if m.recurrent_init == "identity" and get_cell(m.cell).k > 1:
        raise ConfigError(f"model.recurrent_init=identity is IRNN's start for the plain RNNs (rnn_relu, "
                          f"rnn_tanh): {m.cell}'s W_h holds one block per gate, and an identity in each "
                          "is no known recipe; use orthogonal, or model.cell=rnn_relu")
    return InitSpec(init_scale=m.init_scale, recurrent_init=m.recurrent_init,
                    recurrent_gain=m.recurrent_gain, forget_bias=m.forget_bias)


def dtype(cfg):
    return np.dtype(cfg.train.dtype)


def optimizer(cfg, params):
    return make_optimizer(cfg.optim, params)


def schedule(cfg):
    """step -> learning rate (before any rollback scaling)."""
    return make_schedule(cfg.optim, cfg.train.max_steps)


def tokenizer(cfg):
    """An unfitted tokenizer with the data section's settings."""
    return make_tokenizer(cfg.data.tokenizer, cfg.data)
