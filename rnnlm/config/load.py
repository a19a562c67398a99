"""Config: a YAML file plus dotted `--set a.b=value` overrides -> one validated, frozen Config.

Every key has a type, a default, a meaning and (where it matters) a range or a set of choices,
all written once in the dataclass fields of schema.py (the README's config reference lists them).
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
from pathlib import Path
from typing import Any, Sequence

import yaml

from rnnlm.errors import ConfigError
from rnnlm.run.atomic import write_atomic

from .checks import check_combinations
from .schema import _DOTTED, _FIELDS, _SECTIONS, Config, _range_words


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
    """' did you mean 'optim.lr'?' for a mistyped dotted key; the section's keys when nothing is close.

    Only the key's own name (the part after the dot) is compared, so 'model.tied' is not "close"
    to 'model.cell' just because both start with 'model.'."""
    sec, _, leaf = dotted.rpartition(".")
    leaf = _ALIASES.get(leaf.lower(), leaf.lower())
    if f"{sec}.{leaf}" in _DOTTED:
        return f": did you mean '{sec}.{leaf}'?"
    same_leaf = [k for k in _DOTTED if k.endswith("." + leaf)]  # right key, wrong section
    if same_leaf:
        return f": did you mean '{same_leaf[0]}'?"
    in_section = list(_FIELDS.get(sec, {}))
    close = [f"{sec}.{m}" for m in difflib.get_close_matches(leaf, in_section, n=1, cutoff=0.6)]
    if not close:
        leaves = [k.rpartition(".")[2] for k in _DOTTED]
        close = [_DOTTED[leaves.index(m)] for m in difflib.get_close_matches(leaf, leaves, n=1, cutoff=0.75)]
    if close:
        return f": did you mean '{close[0]}'?"
    if in_section:
        return f": the keys of section '{sec}' are {', '.join(in_section)} (README: Config reference)"
    return f": valid sections are {', '.join(_SECTIONS)} (README: Config reference)"


def _shown(name: Any) -> str:
    """A key as it can be shown on one line: control characters escaped."""
    text = str(name)
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


def _unknown_section(sec: Any) -> ConfigError:
    close = difflib.get_close_matches(str(sec), list(_SECTIONS), n=1, cutoff=0.5)
    hint = f"did you mean '{close[0]}'?" if close else f"valid sections are {', '.join(_SECTIONS)}"
    return ConfigError(f"unknown config section '{_shown(sec)}': {hint}")


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


def _choice(dotted: str, meta, value: Any) -> Any:
    """A choice written in another case ('LSTM') is the choice ('lstm'); anything else unchanged."""
    choices = meta["choices"]
    if choices is None or not isinstance(value, str) or value in choices:
        return value
    same = [c for c in choices if c.lower() == value.strip().lower()]
    return same[0] if len(same) == 1 else value


def _check_value(dotted: str, meta, value: Any) -> None:
    choices = meta["choices"]
    if choices is not None and value not in choices:
        close = difflib.get_close_matches(str(value).lower(), choices, n=1, cutoff=0.6)
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
            kwargs[key] = _choice(dotted, f.metadata, _coerce(dotted, f.type, value))
            _check_value(dotted, f.metadata, kwargs[key])
        sections[sec] = cls(**kwargs)
    cfg = Config(**sections)
    check_combinations(cfg)
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


DATA_PATHS = ("corpus", "train", "valid", "test")


def _resolve_data_paths(raw: Any, base: Path) -> Any:
    """Copy of `raw` with the relative data paths (data.corpus/train/valid/test) made absolute
    against `base`: a config file's paths are relative to the file, --set paths to the current directory."""
    data = raw.get("data") if isinstance(raw, dict) else None
    if not isinstance(data, dict):
        return raw
    data = dict(data)
    for key in DATA_PATHS:
        value = data.get(key)
        if isinstance(value, str) and value and not os.path.isabs(os.path.expanduser(value)):
            data[key] = os.path.normpath(os.path.join(base, value))
        elif isinstance(value, str) and value:
            data[key] = os.path.expanduser(value)
    return dict(raw, data=data)


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
        raw = _resolve_data_paths(_parse_yaml(text, source), p.resolve().parent)
    if raw is not None and not isinstance(raw, dict):
        return _build(raw, source)  # raises: top level is not a mapping
    return _build(_resolve_data_paths(_apply_overrides(raw or {}, overrides), Path.cwd()), source)


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
    """Write the resolved config as YAML, atomically (raises OSError when it cannot)."""
    text = "# resolved rnnlm config\n" + yaml.safe_dump(config_to_dict(cfg), sort_keys=False)
    write_atomic(path, text.encode("utf-8"))
