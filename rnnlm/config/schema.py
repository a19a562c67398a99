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

    corpus: str = _key("corpora/tiny-shakespeare.txt",
                       "path of the text file to train on, cut into train/valid/test by the two fractions "
                       "below (a relative path in a config file is relative to that file)")
    train: str = _key("", "or: path of the training text file (PTB/WikiText layout: then data.valid is "
                      "needed, data.test is optional, data.corpus and the fractions are not used)")
    valid: str = _key("", "path of the validation text file (with data.train)")
    test: str = _key("", "path of the test text file (with data.train; empty = none)")
    tokenizer: str = _key("char", registry.describe(registry.TOKENIZERS),
                          choices=registry.choices(registry.TOKENIZERS))
    vocab_size: int = _key(0, "word: at most this many ids, <eos> and <unk> included (0 = no cap); "
                           "bpe: the number of ids to learn (256 bytes + merges, e.g. 1024)", ge=0)
    min_count: int = _key(1, "word: keep only words seen at least this often in the training text", ge=1)
    lowercase: bool = _key(False, "word: lowercase the text before splitting it into words")
    word_split: str = _key("whitespace", "word: how text becomes words: whitespace (runs of non-space "
                           "characters) or punct (punctuation marks are words of their own)",
                           choices=("whitespace", "punct"))
    normalize: str = _key("none", "char, word, bpe: Unicode normalisation of the text before fitting and "
                          "encoding (nfc: composed accents)", choices=("none", "nfc"))
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
    hidden_size: int = _key(384, "hidden state width H of every layer", ge=1)
    dropout: float = _key(0.2, "dropout probability on the embedding output, between layers and before the "
                          "output: the rate of each of the three dropout_* keys below left at -1 (0 = off)",
                          ge=0.0, lt=1.0)
    dropout_embed: float = _key(-1.0, "dropout on the embedding output (-1 = model.dropout)", ge=-1.0, lt=1.0)
    dropout_layers: float = _key(-1.0, "dropout on each layer's output that feeds the next layer "
                                 "(-1 = model.dropout)", ge=-1.0, lt=1.0)
    dropout_output: float = _key(-1.0, "dropout on the last layer's output, before the output layer "
                                 "(-1 = model.dropout)", ge=-1.0, lt=1.0)
    dropout_locked: bool = _key(False, "locked (variational) dropout: one mask per stream and window, the "
                                "same at every time step, for all three dropouts above")
    dropout_words: float = _key(0.0, "embedding dropout: drop whole words (rows of the embedding), one "
                                "mask per window (0 = off)", ge=0.0, lt=1.0)
    weight_drop: float = _key(0.0, "weight-drop: DropConnect on every layer's recurrent weights W_h, one "
                              "mask per window (0 = off)", ge=0.0, lt=1.0)
    tie_weights: bool = _key(False, "weight tying: the output layer is the embedding transposed (needs "
                             "embed_size == hidden_size)")
    ar: float = _key(0.0, "activation regularisation: add ar * mean(h^2) of the last layer's dropped "
                     "output to the training loss (AWD-LSTM: 2; 0 = off)", ge=0.0)
    tar: float = _key(0.0, "temporal activation regularisation: add tar * mean((h_t - h_{t-1})^2) of the "
                      "last layer's output to the training loss (AWD-LSTM: 1; 0 = off)", ge=0.0)
    init_scale: float = _key(0.0, "input weights W_x and output weights head.W drawn uniform in [-s, s]; 0 means s = 1/sqrt(hidden_size)",
                             ge=0.0)
    recurrent_init: str = _key("orthogonal", "initialisation of the recurrent weights W_h: orthogonal "
                               "(per gate block), uniform or normal (scale as init_scale), identity "
                               "(IRNN; rnn_relu and rnn_tanh only)",
                               choices=("orthogonal", "uniform", "normal", "identity"))
    recurrent_gain: float = _key(1.0, "factor multiplying W_h at initialisation", gt=0.0)
    forget_bias: float = _key(1.0, "LSTM forget-gate bias at initialisation")
    head: str = _key("full", "output layer: " + registry.describe(registry.HEADS),
                     choices=registry.choices(registry.HEADS))
    adaptive_cutoffs: str = _key("", "adaptive head only: the ids where the head and each tail "
                                 "cluster end, increasing and below the vocabulary size, e.g. \"500,2000\"")


@dataclass(frozen=True)
class TrainConfig:
    """The training loop: batching, truncated BPTT, logging, evaluation, checkpoints."""

    batch_size: int = _key(32, "number B of parallel streams the training text is cut into", ge=1)
    bptt: int = _key(64, "window length T of truncated backpropagation through time", ge=1)
    bptt_mode: str = _key("fixed", "fixed: consecutive windows of bptt; k1k2: an update every k1 tokens "
                          "through the last k2 (Mikolov's bptt-block); variable: window lengths drawn "
                          "around bptt, lr scaled by length/bptt (AWD-LSTM)",
                          choices=("fixed", "k1k2", "variable"))
    k1: int = _key(10, "k1k2: new tokens (the ones whose loss counts) per update", ge=1)
    k2: int = _key(0, "k1k2: steps backpropagated per update, >= k1 (0 = train.bptt)", ge=0)
    bptt_std: float = _key(5.0, "variable: standard deviation of the window length", ge=0.0)
    bptt_p: float = _key(0.95, "variable: probability that the mean length is bptt (else bptt/2)",
                         ge=0.0, le=1.0)
    bptt_min: int = _key(5, "variable: shortest window drawn", ge=1)
    max_steps: int = _key(2000, "number of optimizer steps", ge=1)
    max_minutes: float = _key(0.0, "also stop after this many minutes of training (wall clock, "
                              "evaluation included, summed over resumed runs), with a last evaluation "
                              "and checkpoint; cosine and linear still end at max_steps (0 = off)",
                              ge=0.0)
    seed: int = _key(1234, "seed of every random generator (init, dropout, sampling)", ge=0)
    log_every: int = _key(10, "log training metrics every this many steps", ge=1)
    eval_every: int = _key(200, "evaluate on the validation split every this many steps (0 = only at the end)",
                           ge=0)
    dtype: str = _key("float32", "floating-point type of parameters and activations",
                      choices=("float32", "float64"))
    backend: str = _key("numpy", "array library the math runs on: numpy (the CPU) or cupy (an NVIDIA GPU; "
                         "needs pip install -e '.[gpu]')", choices=("numpy", "cupy"))
    threads: int = _key(0, "BLAS threads (0 = leave the BLAS default)", ge=0)
    sample_length: int = _key(300, "characters/tokens sampled at the end of training (0 = none)", ge=0)
    probe_every: int = _key(0, "run the last-position gradient probe every this many steps (0 = off)", ge=0)
    keep_checkpoints: int = _key(3, "how many recent checkpoints to keep on disk", ge=1)
    on_nonfinite: str = _key("skip", "what to do when loss or gradients are NaN/inf: skip the step, roll back "
                             "to the last checkpoint with a lower lr, or stop", choices=("skip", "rollback", "stop"))
    rollback_lr_factor: float = _key(0.5, "learning-rate multiplier applied at each rollback", gt=0.0, le=1.0)
    tensorboard: bool = _key(False, "also write TensorBoard event files to RUN_DIR/tensorboard (needs the "
                             "tensorboard extra: pip install -e '.[tensorboard]' in the checkout)")
    early_stop: int = _key(0, "stop when this many validations in a row bring no new best loss (0 = off)",
                           ge=0)


@dataclass(frozen=True)
class OptimConfig:
    """Optimizer, gradient clipping and learning-rate schedule."""

    name: str = _key("adam", "optimizer: " + registry.describe(registry.OPTIMIZERS),
                     choices=registry.choices(registry.OPTIMIZERS))
    lr: float = _key(2e-3, "peak learning rate", gt=0.0)
    momentum: float = _key(0.0, "momentum of sgd and ntasgd (0 = none)", ge=0.0, lt=1.0)
    nesterov: bool = _key(False, "sgd, ntasgd: Nesterov momentum, step along g + momentum * v (needs momentum > 0)")
    beta1: float = _key(0.9, "adam, adamw: first-moment decay", ge=0.0, lt=1.0)
    beta2: float = _key(0.999, "adam, adamw: second-moment decay", ge=0.0, lt=1.0)
    alpha: float = _key(0.95, "rmsprop: decay of the running mean of squared gradients (char-rnn: 0.95)",
                        ge=0.0, lt=1.0)
    eps: float = _key(1e-8, "adam, adamw, adagrad, rmsprop: epsilon added to the denominator's square root",
                      gt=0.0)
    weight_decay: float = _key(0.0, "weight decay: added to the gradient as L2 (adam, adagrad, rmsprop) or "
                               "applied as w -= lr * wd * w (adamw, sgd, ntasgd)", ge=0.0)
    nonmono: int = _key(5, "ntasgd: start averaging when a validation loss is worse than the best one "
                        "from before the last nonmono evaluations", ge=1)
    clip_norm: float = _key(5.0, "clip the global L2 norm of all gradients to this (0 = off)", ge=0.0)
    clip_value: float = _key(0.0, "clip every gradient element to [-v, v] (0 = off)", ge=0.0)
    schedule: str = _key("plateau", "learning-rate schedule after warmup: "
                         + registry.describe(registry.SCHEDULES),
                         choices=registry.choices(registry.SCHEDULES))
    warmup_steps: int = _key(0, "steps of linear warmup from 0 to lr", ge=0)
    min_lr: float = _key(0.0, "learning rate reached at the end of cosine/linear; the floor of step, "
                         "exponential and plateau", ge=0.0)
    gamma: float = _key(0.5, "step, exponential: factor applied to the lr per decay", gt=0.0, le=1.0)
    step_size: int = _key(1000, "step, exponential: steps per factor gamma", ge=1)
    decay_start: int = _key(0, "step, exponential: step at which the decay begins (the first step "
                            "decay comes step_size steps later)", ge=0)
    milestones: str = _key("", "step: comma-separated increasing steps at which lr is multiplied by "
                           "gamma, e.g. \"1000,2000\" (replaces step_size and decay_start; empty = off)")
    factor: float = _key(2.0, "plateau: divide the lr by this on a stall (Mikolov: 2, word_language_model: 4)",
                         gt=1.0)
    patience: int = _key(2, "plateau: evaluations in a row without a new best validation loss before "
                         "dividing the lr", ge=1)


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
