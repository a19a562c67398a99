"""Tokenizers: text <-> int32 ids. Each owns its vocabulary and saves it as a JSON-safe dict.

- char: one id per Unicode code point; the vocabulary is the sorted set of characters of the text
  it was fitted on, so id i is the i-th smallest code point. Encoding is vectorised: the text becomes
  its UTF-32 code points (one numpy buffer) and np.searchsorted finds each id, no Python loop.
- byte: the 256 byte values; text is encoded as UTF-8, fit is a no-op, decoding replaces
  invalid UTF-8 sequences with U+FFFD (a model may sample half a character).

read_corpus() reads a training text: raw bytes for "byte"; for "char" strict UTF-8 with a leading
BOM stripped and CRLF / lone CR turned into LF, so the same text gives the same vocabulary on
every platform.
"""

import os
from pathlib import Path
from typing import Any

import numpy as np

from rnnlm.errors import CheckpointError, ConfigError, DataError

TOKENIZERS = ("char", "byte")


def _as_ids(ids: Any, vocab_size: int) -> np.ndarray:
    """Flatten ids to an int64 array, checking they are integers in [0, vocab_size)."""
    arr = np.asarray(ids).reshape(-1)  # (N,)
    if arr.size == 0:
        return arr.astype(np.int64)
    if not np.issubdtype(arr.dtype, np.integer):
        raise DataError(f"token ids must be integers, got dtype {arr.dtype}: pass the ids the model produced")
    lo, hi = int(arr.min()), int(arr.max())
    if lo < 0 or hi >= vocab_size:
        bad = lo if lo < 0 else hi
        raise DataError(f"token id {bad} is outside the vocabulary of {vocab_size}: "
                        "the ids come from a model with another tokenizer")
    return arr.astype(np.int64)


class CharTokenizer:
    """One token per Unicode code point; vocabulary = sorted characters of the fitted text."""

    kind = "char"

    def __init__(self, chars: str = ""):
        self._set_chars(chars)

    def _set_chars(self, chars: str) -> None:
        self.chars = chars  # the vocabulary, in id order
        self._codes = np.frombuffer(chars.encode("utf-32-le", "surrogatepass"), dtype="<u4").copy()  # (V,)

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def fit(self, text: str) -> "CharTokenizer":
        """Vocabulary = sorted set of the characters of `text`; returns self."""
        if not isinstance(text, str):
            raise TypeError("CharTokenizer.fit takes str; read the corpus with read_corpus(path, 'char')")
        if not text:
            raise DataError("cannot fit a char tokenizer on an empty text: give a non-empty corpus")
        self._set_chars("".join(sorted(set(text))))
        return self

    def encode(self, text: str, unknown: str = "error") -> np.ndarray:
        """Text -> ids (N,) int32. unknown="error": DataError on characters not in the vocabulary;
        unknown="skip": drop them."""
        if unknown not in ("error", "skip"):
            raise ValueError(f"unknown must be 'error' or 'skip', got {unknown!r}")
        if not isinstance(text, str):
            raise TypeError("CharTokenizer.encode takes str")
        codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")  # (N,)
        if self.vocab_size == 0:
            if codes.size:
                raise DataError("the char tokenizer has an empty vocabulary: fit it on a text first")
            return np.zeros(0, dtype=np.int32)
        ids = np.searchsorted(self._codes, codes)  # (N,) position where each code point would go
        ids = np.minimum(ids, self.vocab_size - 1)
        known = self._codes[ids] == codes  # (N,) bool
        if not known.all():
            if unknown == "skip":
                return ids[known].astype(np.int32)
            missing_codes = codes[~known]
            _, first = np.unique(missing_codes, return_index=True)
            shown = [chr(int(c)) for c in missing_codes[np.sort(first)][:5]]
            count = len(first)
            raise DataError(f"{count} character(s) not in the vocabulary, e.g. "
                            f"{', '.join(map(repr, shown))}: the model was trained on another "
                            "alphabet (remove them from the text, or train on a corpus that has them)")
        return ids.astype(np.int32)

    def decode(self, ids: Any) -> str:
        """ids (any shape, flattened) -> text; DataError for ids outside the vocabulary."""
        arr = _as_ids(ids, self.vocab_size)
        return self._codes[arr].astype("<u4").tobytes().decode("utf-32-le", "surrogatepass")

    def to_dict(self) -> dict:
        return {"kind": "char", "chars": self.chars}


class ByteTokenizer:
    """The 256 byte values; str input is encoded as UTF-8."""

    kind = "byte"
    vocab_size = 256

    def fit(self, text: Any) -> "ByteTokenizer":
        """No-op: the vocabulary is fixed. Returns self."""
        return self

    def encode(self, text: str | bytes, unknown: str = "error") -> np.ndarray:
        """Text (UTF-8 encoded) or raw bytes -> ids (N,) int32. `unknown` is accepted for a common API."""
        data = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else bytes(text)
        return np.frombuffer(data, dtype=np.uint8).astype(np.int32)  # (N,)

    def decode_bytes(self, ids: Any) -> bytes:
        """ids -> the raw bytes."""
        return _as_ids(ids, 256).astype(np.uint8).tobytes()

    def decode(self, ids: Any) -> str:
        """ids -> text; invalid UTF-8 becomes U+FFFD."""
        return self.decode_bytes(ids).decode("utf-8", errors="replace")

    def to_dict(self) -> dict:
        return {"kind": "byte"}


Tokenizer = CharTokenizer | ByteTokenizer


def make_tokenizer(name: str) -> Tokenizer:
    """An unfitted tokenizer by name ("char" or "byte")."""
    if name == "char":
        return CharTokenizer()
    if name == "byte":
        return ByteTokenizer()
    raise ConfigError(f"unknown tokenizer '{name}': set data.tokenizer to one of {', '.join(TOKENIZERS)}")


def tokenizer_from_dict(d: Any) -> Tokenizer:
    """Rebuild a tokenizer saved by to_dict(); CheckpointError when the content is not valid."""
    if not isinstance(d, dict) or d.get("kind") not in TOKENIZERS:
        raise CheckpointError("saved tokenizer is not a mapping with kind 'char' or 'byte': the checkpoint is corrupt")
    if d["kind"] == "byte":
        return ByteTokenizer()
    chars = d.get("chars")
    if isinstance(chars, list) and all(isinstance(c, str) and len(c) == 1 for c in chars):
        chars = "".join(chars)
    if not isinstance(chars, str) or not chars:
        raise CheckpointError("saved char tokenizer has no 'chars' string: the checkpoint is corrupt")
    codes = [ord(c) for c in chars]
    if any(a >= b for a, b in zip(codes, codes[1:])):
        raise CheckpointError("saved char vocabulary is not sorted and unique: the checkpoint is corrupt")
    return CharTokenizer(chars)


def read_corpus(path: str | os.PathLike, tokenizer_name: str) -> str | bytes:
    """The training text: raw bytes for "byte"; for "char" UTF-8 text, BOM stripped, line ends -> LF."""
    if tokenizer_name not in TOKENIZERS:
        make_tokenizer(tokenizer_name)  # raises the ConfigError
    p = Path(path)
    if not p.exists():
        raise DataError(f"corpus '{p}' not found: set data.corpus to an existing text file "
                        "(run `make corpora` for the default)")
    if p.is_dir():
        raise DataError(f"corpus '{p}' is a directory: set data.corpus to a text file")
    raw = p.read_bytes()
    if not raw:
        raise DataError(f"corpus '{p}' is empty: set data.corpus to a file with text in it")
    if tokenizer_name == "byte":
        return raw
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise DataError(f"corpus '{p}' looks binary (NUL byte at offset {nul}): "
                        "set data.tokenizer=byte, or convert it to UTF-8 text")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise DataError(f"corpus '{p}' is not valid UTF-8 at byte offset {err.start}: "
                        "convert it to UTF-8 or set data.tokenizer=byte") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text:
        raise DataError(f"corpus '{p}' has no text after its byte-order mark: give a non-empty corpus")
    return text
