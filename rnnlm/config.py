"""Config: a YAML file plus dotted `--set a.b=value` overrides -> one validated, frozen Config.

Every key has a type, a default, a meaning and (where it matters) a range or a set of choices,
all written once below in the dataclass fields; `describe_keys()` reads them back for the README.
Mistakes fail loudly with one line naming the dotted key: a mistyped key gets a did-you-mean,
a duplicated key its line number, a wrong value the allowed range or choices.

YAML quirk handled here: PyYAML reads `3e-3` (no dot) as a string, so float keys accept any string
that parses exactly as a number; int keys accept only whole-number literals ("3.5", 100.0 and 1e3
are rejected); no key accepts true/false unless it is a bool key. NaN and inf are always rejected.
"""

import dataclasses
import difflib
import math
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import yaml

from rnnlm.errors import ConfigError


def _key(default, meaning, *, choices=None, ge=None, gt=None, lt=None, le=None):
    """A config field: default, one-line meaning, optional choices and bounds (ge/gt/lt/le)."""
    meta = {"meaning": meaning, "choices": choices, "ge": ge, "gt": gt, "lt": lt, "le": le}
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class DataConfig:
    """Where the text comes from and how it becomes token ids."""

    corpus: str = _key("corpora/tiny-shakespeare.txt", "path of the text file to train on")
    tokenizer: str = _key("char", "char: one token per Unicode character, vocabulary fitted on the corpus; "
                          "byte: the 256 raw byte values", choices=("char", "byte"))
    valid_fraction: float = _key(0.05, "share of the corpus held out for validation (after the train part)",
                                 ge=0.0, lt=0.5)
    test_fraction: float = _key(0.05, "share of the corpus held out for testing (the end of the text)",
                                ge=0.0, lt=0.5)


@dataclass(frozen=True)
class ModelConfig:
    """The network: embedding -> `layers` recurrent cells -> linear output over the vocabulary."""

    cell: str = _key("lstm", "recurrent cell type", choices=("rnn_tanh", "rnn_relu", "gru", "lstm"))
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

    name: str = _key("adam", "optimizer: sgd (with optional momentum) or adam (AdamW-style weight decay)",
                     choices=("sgd", "adam"))
    lr: float = _key(2e-3, "peak learning rate", gt=0.0)
    momentum: float = _key(0.0, "SGD momentum (sgd only)", ge=0.0, lt=1.0)
    beta1: float = _key(0.9, "Adam first-moment decay", ge=0.0, lt=1.0)
    beta2: float = _key(0.999, "Adam second-moment decay", ge=0.0, lt=1.0)
    eps: float = _key(1e-8, "Adam denominator epsilon", gt=0.0)
    weight_decay: float = _key(0.0, "decoupled (AdamW-style) weight decay", ge=0.0)
    clip_norm: float = _key(5.0, "clip the global L2 norm of all gradients to this (0 = off)", ge=0.0)
    clip_value: float = _key(0.0, "clip every gradient element to [-v, v] (0 = off)", ge=0.0)
    schedule: str = _key("constant", "learning-rate schedule after warmup",
                         choices=("constant", "cosine", "linear"))
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
# Common names from other tools -> our key (difflib alone cannot see learning_rate ~ lr).
_ALIASES = {"learning_rate": "lr", "lr_min": "min_lr", "num_layers": "layers", "n_layers": "layers",
            "hidden": "hidden_size", "hidden_dim": "hidden_size", "embedding_size": "embed_size",
            "embed_dim": "embed_size", "emb_size": "embed_size", "seq_len": "bptt", "seq_length": "bptt",
            "steps": "max_steps", "optimizer": "name", "grad_clip": "clip_norm", "max_grad_norm": "clip_norm",
            "wd": "weight_decay", "rnn_type": "cell", "cell_type": "cell", "warmup": "warmup_steps",
            "batch": "batch_size", "data": "corpus", "path": "corpus", "num_steps": "max_steps"}
_TYPE_WORDS = {int: ("an integer", "write a whole number like 32"),
               float: ("a number", "write a finite number like 0.002 or 2e-3"),
               str: ("a string", "quote the value"),
               bool: ("true or false", "write true or false")}


def _did_you_mean(dotted: str) -> str:
    """' did you mean 'optim.lr'?' for a mistyped dotted key, or a list of sections when nothing is close."""
    sec, _, leaf = dotted.rpartition(".")
    leaf = _ALIASES.get(leaf, leaf)
    if f"{sec}.{leaf}" in _DOTTED:
        return f": did you mean '{sec}.{leaf}'?"
    same_leaf = [k for k in _DOTTED if k.endswith("." + leaf)]  # right key, wrong section
    close = same_leaf or difflib.get_close_matches(dotted, _DOTTED, n=1, cutoff=0.6)
    if not close:
        leaves = [k.rpartition(".")[2] for k in _DOTTED]
        close = [_DOTTED[leaves.index(m)] for m in difflib.get_close_matches(leaf, leaves, n=1, cutoff=0.7)]
    if close:
        return f": did you mean '{close[0]}'?"
    return f": valid sections are {', '.join(_SECTIONS)} (see describe_keys / README)"


def _shown(name: Any) -> str:
    """A key as it can be shown on one line: control characters escaped."""
    text = str(name)
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


def _unknown_section(sec: Any) -> ConfigError:
    close = difflib.get_close_matches(str(sec), list(_SECTIONS), n=1, cutoff=0.5)
    hint = f"did you mean '{close[0]}'?" if close else f"valid sections are {', '.join(_SECTIONS)}"
    return ConfigError(f"unknown config section '{_shown(sec)}': {hint}")


def _range_words(meta) -> str:
    parts = [f"{op} {meta[k]}" for k, op in (("ge", ">="), ("gt", ">"), ("lt", "<"), ("le", "<=")) if meta[k] is not None]
    return " and ".join(parts)


def _coerce(dotted: str, typ: type, value: Any) -> Any:
    """Return `value` as `typ`, converting only where the conversion is exact; else ConfigError."""
    if isinstance(value, str) and typ in (int, float):
        text = value.strip()
        if typ is int and re.fullmatch(r"[+-]?\d+", text):
            return int(text)
        if typ is float:
            try:
                value = float(text)
            except ValueError:
                pass
    if typ is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    ok = isinstance(value, typ) and (typ is bool or not isinstance(value, bool))
    if not ok:
        what, fix = _TYPE_WORDS[typ]
        raise ConfigError(f"config key '{dotted}' must be {what}, got {value!r} ({type(value).__name__}): {fix}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"config key '{dotted}' is {value}: give a finite number")
    return value


def _check_value(dotted: str, meta, value: Any) -> None:
    choices = meta["choices"]
    if choices is not None and value not in choices:
        close = difflib.get_close_matches(str(value), choices, n=1, cutoff=0.6)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ConfigError(f"config key '{dotted}' must be one of {', '.join(choices)}; got {value!r}{hint}")
    bounds = (("ge", lambda b: value >= b), ("gt", lambda b: value > b),
              ("lt", lambda b: value < b), ("le", lambda b: value <= b))
    if not all(meta[k] is None or test(meta[k]) for k, test in bounds):
        raise ConfigError(f"config key '{dotted}' must be {_range_words(meta)}, got {value!r}")


def _build(raw: Any, source: str) -> Config:
    """Nested dict (from YAML, overrides or a checkpoint) -> validated Config."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of sections ({', '.join(_SECTIONS)}), "
                          f"got {type(raw).__name__}")
    for sec in raw:
        if sec not in _SECTIONS:
            raise _unknown_section(sec)
    sections = {}
    for sec, cls in _SECTIONS.items():
        body = raw.get(sec)
        body = {} if body is None else body
        if not isinstance(body, dict):
            raise ConfigError(f"config section '{sec}' must be a mapping of keys to values, "
                              f"got {type(body).__name__}: indent its keys under '{sec}:'")
        kwargs = {}
        for key, value in body.items():
            dotted = f"{sec}.{key}"
            if key not in _FIELDS[sec]:
                raise ConfigError(f"unknown config key '{_shown(dotted)}'{_did_you_mean(dotted)}")
            f = _FIELDS[sec][key]
            kwargs[key] = _coerce(dotted, f.type, value)
            _check_value(dotted, f.metadata, kwargs[key])
        sections[sec] = cls(**kwargs)
    cfg = Config(**sections)
    if cfg.data.valid_fraction + cfg.data.test_fraction >= 1.0:
        raise ConfigError("config keys 'data.valid_fraction' + 'data.test_fraction' must be < 1: lower them")
    if cfg.optim.min_lr > cfg.optim.lr:
        raise ConfigError(f"config key 'optim.min_lr' ({cfg.optim.min_lr}) must not exceed 'optim.lr' "
                          f"({cfg.optim.lr}): lower optim.min_lr")
    return cfg


def _check_duplicates(node: Any, path: str, source: str, seen_nodes: set) -> None:
    """Walk composed YAML nodes; a key twice in one mapping is an error (safe_load would keep the last)."""
    if id(node) in seen_nodes:
        return
    seen_nodes.add(id(node))
    if isinstance(node, yaml.MappingNode):
        lines: dict = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            dotted = f"{path}.{key}" if path else str(key)
            if key is not None:
                line = key_node.start_mark.line + 1
                if key in lines:
                    raise ConfigError(f"duplicate config key '{dotted}' at line {line} of {source} "
                                      f"(first at line {lines[key]}): keep only one")
                lines[key] = line
            _check_duplicates(value_node, dotted, source, seen_nodes)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _check_duplicates(item, path, source, seen_nodes)


def _parse_yaml(text: str, source: str) -> Any:
    try:
        _check_duplicates(yaml.compose(text, Loader=yaml.SafeLoader), "", source, set())
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(f"{source} is not valid YAML{where}: {problem}: fix the syntax there") from None


def _apply_overrides(raw: dict, overrides: Sequence[str]) -> dict:
    """Copy of `raw` with each "section.key=value" applied; values are YAML scalars."""
    raw = {sec: dict(body) if isinstance(body, dict) else body for sec, body in raw.items()}
    for text in overrides:
        if "=" not in text:
            raise ConfigError(f"override '{text}' has no '=': write it as section.key=value, e.g. optim.lr=3e-3")
        key, _, value_text = text.partition("=")
        key = key.strip()
        sec, dot, name = key.partition(".")
        if not dot or not sec or not name or "." in name:
            raise ConfigError(f"override '{text}' must name a key as section.key{_did_you_mean(key)}")
        if sec not in _SECTIONS:
            raise _unknown_section(sec)
        try:
            value = yaml.safe_load(value_text)
        except yaml.YAMLError:
            value = value_text.strip()
        if isinstance(value, (dict, list)):
            raise ConfigError(f"override '{text}' must set a single value, not a {type(value).__name__}")
        f = _FIELDS[sec].get(name)
        if f is not None and f.type is str and value is not None and not isinstance(value, str):
            value = value_text.strip()  # a path like `2020` or `on` stays the text the user typed
        body = raw.get(sec)
        raw[sec] = body = {} if body is None else body
        if not isinstance(body, dict):
            raise ConfigError(f"config section '{sec}' must be a mapping of keys to values: fix the file")
        body[name] = value
    return raw


def load_config(path: str | os.PathLike | None, overrides: Sequence[str] = ()) -> Config:
    """Read a YAML config (None = all defaults), apply `--set` overrides, validate. ConfigError on mistakes."""
    raw: Any = {}
    source = "config"
    if path is not None:
        p = Path(path)
        source = f"config file '{p}'"
        if not p.exists():
            raise ConfigError(f"config file '{p}' not found: check the path")
        if p.is_dir():
            raise ConfigError(f"config file '{p}' is a directory: give the path of a .yaml file")
        try:
            text = p.read_text(encoding="utf-8")
        except UnicodeDecodeError as err:
            raise ConfigError(f"config file '{p}' is not UTF-8 text (byte {err.start}): save it as UTF-8") from None
        raw = _parse_yaml(text, source)
    if raw is not None and not isinstance(raw, dict):
        return _build(raw, source)  # raises: top level is not a mapping
    return _build(_apply_overrides(raw or {}, overrides), source)


def apply_overrides(cfg: Config, overrides: Sequence[str]) -> Config:
    """A new Config: `cfg` with "section.key=value" overrides applied and validated."""
    return _build(_apply_overrides(config_to_dict(cfg), overrides), "config")


def config_to_dict(cfg: Config) -> dict:
    """Nested plain dict {section: {key: value}}; values are str/int/float, safe for JSON and YAML."""
    return dataclasses.asdict(cfg)


def config_from_dict(d: Any) -> Config:
    """Inverse of config_to_dict, validated like a file (missing keys take defaults)."""
    return _build(d, "saved config")


def save_config(cfg: Config, path: str | os.PathLike) -> None:
    """Write the resolved config as YAML, atomically (temporary file + rename)."""
    p = Path(path)
    text = "# resolved rnnlm config\n" + yaml.safe_dump(config_to_dict(cfg), sort_keys=False)
    fd, tmp = tempfile.mkstemp(dir=p.parent or ".", prefix=p.name + ".", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(tmp, 0o644)  # mkstemp creates 0600
    os.replace(tmp, p)


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
