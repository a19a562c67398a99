"""The corpus: read the text file, fit the tokenizer, encode, cut into train/valid/test splits.

read_corpus() reads a training text: raw bytes for a tokenizer that reads bytes; else strict UTF-8
with a leading BOM stripped and CRLF / lone CR turned into LF, so the same text gives the same
vocabulary on every platform.
"""

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rnnlm.errors import ConfigError, TextFileError

from .tokenizers import Tokenizer, make_tokenizer, tokenizer_class


@dataclass(frozen=True)
class Corpus:
    """A tokenizer and the three contiguous splits of the corpus, as int32 id arrays (N,)."""

    tokenizer: Tokenizer
    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray


def split_ids(ids: np.ndarray, valid_fraction: float, test_fraction: float
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Contiguous (train, valid, test) views: train first, then valid, then test at the end.

    Sizes are floor(N * fraction) for valid and test; a fraction of 0 gives an empty split."""
    for name, frac in (("data.valid_fraction", valid_fraction), ("data.test_fraction", test_fraction)):
        if not 0.0 <= frac < 0.5:
            raise ConfigError(f"config key '{name}' must be >= 0 and < 0.5, got {frac!r}")
    n = len(ids)
    n_valid = int(n * valid_fraction)
    n_test = int(n * test_fraction)
    n_train = n - n_valid - n_test
    return ids[:n_train], ids[n_train:n_train + n_valid], ids[n_train + n_valid:]


def read_corpus(path: str | os.PathLike, tokenizer_name: str) -> str | bytes:
    """The training text: raw bytes for a tokenizer that reads bytes (byte); for the others UTF-8
    text, BOM stripped, line ends -> LF."""
    reads_bytes = tokenizer_class(tokenizer_name).reads_bytes  # ConfigError for an unknown kind
    p = Path(path)
    if not p.exists():
        raise TextFileError(p, "not found", "set data.corpus to an existing text file "
                            "(run `make corpora` for the default)")
    if p.is_dir():
        raise TextFileError(p, "is a directory", "set data.corpus to a text file")
    raw = p.read_bytes()
    if not raw:
        raise TextFileError(p, "is empty", "set data.corpus to a file with text in it")
    if reads_bytes:
        return raw
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise TextFileError(p, f"looks binary (NUL byte at offset {nul})",
                            "set data.tokenizer=byte, or convert it to UTF-8 text")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise TextFileError(p, f"is not valid UTF-8 at byte offset {err.start}",
                            "convert it to UTF-8 or set data.tokenizer=byte") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text:
        raise TextFileError(p, "has no text after its byte-order mark", "give a non-empty corpus")
    return text


def load_splits(corpus: str | os.PathLike, tokenizer_name: str, valid_fraction: float, test_fraction: float,
                tokenizer: Any = None, data_cfg: Any = None) -> Corpus:
    """Read the corpus, fit the tokenizer on the WHOLE text (so valid/test have no unknown characters),
    encode and split. Pass a saved `tokenizer` (e.g. from a checkpoint) to reuse it instead of fitting;
    its kind then decides how the file is read."""
    if tokenizer is not None:
        tokenizer_name = tokenizer.kind
    text = read_corpus(corpus, tokenizer_name)
    if tokenizer is None:
        tokenizer = make_tokenizer(tokenizer_name, data_cfg).fit(text)
    ids = tokenizer.encode(text)  # (N_total,) int32
    train, valid, test = split_ids(ids, valid_fraction, test_fraction)
    return Corpus(tokenizer, train, valid, test)


def load_corpus(data_cfg: Any, tokenizer: Any = None) -> Corpus:
    """load_splits from a DataConfig (config.data)."""
    return load_splits(data_cfg.corpus, data_cfg.tokenizer, data_cfg.valid_fraction, data_cfg.test_fraction,
                       tokenizer, data_cfg)
