"""The config schema: every key of every section, with its type, default, meaning and limits.

Written once, here, as frozen dataclass fields; load.py validates files and overrides against
it, and describe_keys() reads it back for the README's config reference. The choices of the keys
that name a pluggable piece (cell, head, tokenizer, optimizer, schedule) come from rnnlm/registry.py.
"""

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from rnnlm import registry


def _key(default, meaning, *, choices=None, ge=None, gt=None, lt=None, le=None):
    """A config field: default, one-line meaning, optional choices and bounds (ge/gt/lt/le)."""
    meta = {"meaning": meaning, "choices": choices, "ge": ge, "gt": gt, "lt": lt, "le": le}
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class DataConfig:
    """Where the text comes from and how it becomes token ids."""

    corpus: str = _key("corpora/tiny-shakespeare.txt", "path of the text file to train on")
    tokenizer: str = _key("char", registry.describe(registry.TOKENIZERS),
                          choices=registry.choices(registry.TOKENIZERS))
    valid_fraction: float = _key(0.05, "share of the corpus held out for validation (after the train part)",
                                 ge=0.0, lt=0.5)
    test_fraction: float = _key(0.05, "share of the corpus held out for testing (the end of the text)",
                                ge=0.0, lt=0.5)


@dataclass(frozen=True)
class ModelConfig:
    """The network: embedding -> `layers` recurrent cells -> linear output over the vocabulary."""

    cell: str = _key("lstm", "recurrent cell type: " + registry.describe(registry.CELLS),
                     choices=registry.choices(registry.CELLS))
    layers: int = _key(2, "number of stacked recurrent layers", ge=1)
    embed_size: int = _key(64, "embedding width D", ge=1)
    hidden_size: int = _key(256, "hidden state width H of every layer", ge=1)
    dropout: float = _key(0.0, "dropout probability between layers and before the output (0 = off)",
                          ge=0.0, lt=1.0)
    init_scale: float = _key(0.0, "input weights W_x and output weights head.W drawn uniform in [-s, s]; 0 means s = 1/sqrt(hidden_size)",
                             ge=0.0)
    recurrent_init: str = _key("orthogonal", "initialisation of the recurrent weights W_h",
                               choices=("orthogonal", "uniform"))
    recurrent_gain: float = _key(1.0, "factor multiplying W_h at initialisation", gt=0.0)
    forget_bias: float = _key(1.0, "LSTM forget-gate bias at initialisation")
    head: str = _key("full", "output layer: " + registry.describe(registry.HEADS),
                     choices=registry.choices(registry.HEADS))
    adaptive_cutoffs: str = _key("", "adaptive head only: the ids where the head and each tail "
                                 "cluster end, increasing and below the vocabulary size, e.g. \"2000,6000\"")


@dataclass(frozen=True)
class TrainConfig:
    """The training loop: batching, truncated BPTT, logging, evaluation, checkpoints."""

    batch_size: int = _key(32, "number B of parallel streams the training text is cut into", ge=1)
    bptt: int = _key(64, "window length T of truncated backpropagation through time", ge=1)
    max_steps: int = _key(2000, "number of optimizer steps", ge=1)
    seed: int = _key(1234, "seed of every random generator (init, dropout, sampling)", ge=0)
    log_every: int = _key(10, "log training metrics every this many steps", ge=1)
    eval_every: int = _key(200, "evaluate on the validation split every this many steps (0 = only at the end)",
                           ge=0)
    dtype: str = _key("float32", "floating-point type of parameters and activations",
                      choices=("float32", "float64"))
    threads: int = _key(0, "BLAS threads (0 = leave the BLAS default)", ge=0)
    sample_length: int = _key(300, "characters/tokens sampled at the end of training (0 = none)", ge=0)
    probe_every: int = _key(0, "run the last-position gradient probe every this many steps (0 = off)", ge=0)
    keep_checkpoints: int = _key(3, "how many recent checkpoints to keep on disk", ge=1)
    on_nonfinite: str = _key("skip", "what to do when loss or gradients are NaN/inf: skip the step, roll back "
                             "to the last checkpoint with a lower lr, or stop", choices=("skip", "rollback", "stop"))
    rollback_lr_factor: float = _key(0.5, "learning-rate multiplier applied at each rollback", gt=0.0, le=1.0)


@dataclass(frozen=True)
class OptimConfig:
    """Optimizer, gradient clipping and learning-rate schedule."""

    name: str = _key("adam", "optimizer: " + registry.describe(registry.OPTIMIZERS),
                     choices=registry.choices(registry.OPTIMIZERS))
    lr: float = _key(2e-3, "peak learning rate", gt=0.0)
    momentum: float = _key(0.0, "SGD momentum (sgd only)", ge=0.0, lt=1.0)
    beta1: float = _key(0.9, "Adam first-moment decay", ge=0.0, lt=1.0)
    beta2: float = _key(0.999, "Adam second-moment decay", ge=0.0, lt=1.0)
    eps: float = _key(1e-8, "Adam denominator epsilon", gt=0.0)
    weight_decay: float = _key(0.0, "decoupled (AdamW-style) weight decay", ge=0.0)
    clip_norm: float = _key(5.0, "clip the global L2 norm of all gradients to this (0 = off)", ge=0.0)
    clip_value: float = _key(0.0, "clip every gradient element to [-v, v] (0 = off)", ge=0.0)
    schedule: str = _key("constant", "learning-rate schedule after warmup: "
                         + registry.describe(registry.SCHEDULES),
                         choices=registry.choices(registry.SCHEDULES))
    warmup_steps: int = _key(0, "steps of linear warmup from 0 to lr", ge=0)
    min_lr: float = _key(0.0, "learning rate reached at the end of a cosine/linear schedule", ge=0.0)


@dataclass(frozen=True)
class Config:
    """The whole run: one frozen section per concern."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)


_SECTIONS = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig, "optim": OptimConfig}
_FIELDS = {sec: {f.name: f for f in dataclasses.fields(cls)} for sec, cls in _SECTIONS.items()}
_DOTTED = [f"{sec}.{name}" for sec, fields in _FIELDS.items() for name in fields]


def _range_words(meta) -> str:
    parts = [f"{op} {meta[k]}" for k, op in (("ge", ">="), ("gt", ">"), ("lt", "<"), ("le", "<=")) if meta[k] is not None]
    return " and ".join(parts)


def describe_keys() -> list[tuple[str, str, Any, str]]:
    """(dotted_key, type_name, default, meaning) for every key, in file order; feeds the README reference."""
    rows = []
    for sec, fields in _FIELDS.items():
        for name, f in fields.items():
            meta = f.metadata
            type_name = " | ".join(meta["choices"]) if meta["choices"] else f.type.__name__
            rng = _range_words(meta)
            meaning = meta["meaning"] + (f" ({rng})" if rng else "")
            rows.append((f"{sec}.{name}", type_name, f.default, meaning))
    return rows
