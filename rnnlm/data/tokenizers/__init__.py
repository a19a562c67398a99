"""Tokenizers, one module per kind, registered in rnnlm/registry.py (interface in base.py)."""

from typing import Any

from rnnlm import registry
from rnnlm.errors import CheckpointError, ConfigError

from .base import Tokenizer


def tokenizer_class(kind: str) -> type:
    if kind not in registry.TOKENIZERS:
        raise ConfigError(f"unknown tokenizer '{kind}': set data.tokenizer to one of "
                          f"{', '.join(registry.TOKENIZERS)}")
    try:
        return registry.load(registry.TOKENIZERS, kind)
    except ModuleNotFoundError as e:
        missing = (e.name or "").partition(".")[0]
        if not missing or missing == "rnnlm":
            raise
        raise ConfigError(f"data.tokenizer={kind} needs the optional package '{missing}', which is not "
                          f"installed: run `pip install {missing}` in rnnlm's environment, or choose "
                          "another data.tokenizer") from None


def make_tokenizer(kind: str, data_cfg: Any = None) -> Tokenizer:
    """An unfitted tokenizer of `kind`, with the settings of a config's data section."""
    cls = tokenizer_class(kind)
    return cls.from_config(data_cfg) if data_cfg is not None else cls()


def tokenizer_from_dict(d: Any) -> Tokenizer:
    """Rebuild a tokenizer saved by to_dict(); CheckpointError when the content is not valid."""
    if not isinstance(d, dict) or d.get("kind") not in registry.TOKENIZERS:
        raise CheckpointError(f"saved tokenizer is not a mapping with a kind among "
                              f"{', '.join(registry.TOKENIZERS)}: the checkpoint is corrupt")
    return registry.load(registry.TOKENIZERS, d["kind"]).from_dict(d)
