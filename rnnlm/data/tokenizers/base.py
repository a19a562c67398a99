"""What every tokenizer is: text <-> int32 ids, a vocabulary it saves with the run.

A tokenizer kind is one module of this package, registered in rnnlm/registry.py (TOKENIZERS). The
class implements:

    kind                      its registry name, also stored in to_dict()["kind"]
    reads_bytes               True when it reads the corpus as raw bytes (byte), else UTF-8 text
    learns_from_train         True when the vocabulary is learned from the training part only
                              (word, bpe); False when it is fitted on all the text (char: an
                              alphabet, so held-out text has no unknown character)
    vocab_size                number of ids V; ids are 0 .. V-1
    eos_id, unk_id            ids of the end-of-sequence and unknown tokens, or None
    unknown_count             after encode(): how many symbols were unknown (mapped to <unk> or
                              skipped); eval reports it
    from_config(data_cfg)     an unfitted tokenizer with the settings of the config's data section
                              (ConfigError for settings that do not fit the kind)
    settings()                a JSON-safe dict of those settings: with the corpus fingerprint, the
                              key of the cached fitted vocabulary
    fit(text)                 learn the vocabulary from the training text; returns self
    fit_blocks(blocks)        the same from an iterable of text blocks cut at line ends, so a corpus
                              of any size is fitted without holding it in memory
    encode(text, unknown)     text -> ids (N,) int32; unknown = "error" (DataError naming the
                              symbols), "skip" (drop them) or "unk" (map them to <unk>, where
                              the kind has one). Encoding blocks cut at line ends and joining the
                              ids gives the ids of the whole text.
    decode(ids)               ids -> text
    text_size(ids)            (characters, UTF-8 bytes) of the text the ids stand for, or None
                              when the ids do not determine it (word: whitespace is not kept)
    stream_decoder()          an object with feed(id) -> str and finish() -> str that decodes
                              one id at a time for streamed output (byte holds back an incomplete
                              UTF-8 sequence until it completes), and prime(ids) for text shown
                              before it (a prompt)
    to_dict(), from_dict(d)   a JSON-safe dict saved in every checkpoint, and back; from_dict
                              raises CheckpointError on anything malformed
"""

import codecs
import unicodedata
from typing import Any, Iterable

import numpy as np

from rnnlm.errors import ConfigError, DataError

UNKNOWN_POLICIES = ("error", "skip", "unk")
NORMALIZE = ("none", "nfc")

# Settings of the data section and their "not set" values: a kind that does not use one refuses it.
_DATA_DEFAULTS = {"vocab_size": 0, "min_count": 1, "lowercase": False, "word_split": "whitespace",
                  "normalize": "none"}


def as_ids(ids: Any, vocab_size: int) -> np.ndarray:
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


def check_unknown_policy(unknown: str) -> None:
    if unknown not in UNKNOWN_POLICIES:
        raise ValueError(f"unknown must be one of {UNKNOWN_POLICIES}, got {unknown!r}")


def data_settings(data_cfg: Any, kind: str, uses: tuple) -> dict:
    """The data-section settings a kind `uses`, read from data_cfg (None: defaults).

    ConfigError when a setting the kind does not use is set to anything but its default, so a
    config never believes it changed something that is silently ignored."""
    values = {}
    for key, default in _DATA_DEFAULTS.items():
        value = getattr(data_cfg, key, default) if data_cfg is not None else default
        if key in uses:
            values[key] = value
        elif value != default:
            raise ConfigError(f"config key 'data.{key}' does not apply to data.tokenizer={kind}: "
                              f"remove it (or set data.tokenizer to one that uses it)")
    return values


def normalize_text(text: str, normalize: str) -> str:
    """NFC-normalise `text` when normalize == "nfc" (composed accents: é is one code point)."""
    return unicodedata.normalize("NFC", text) if normalize == "nfc" else text


def check_normalize(value: Any) -> str:
    if value not in NORMALIZE:
        raise DataError(f"saved tokenizer has normalize={value!r}, not one of {NORMALIZE}")
    return value


def utf8_sizes(text: str) -> tuple[int, int]:
    """(characters, UTF-8 bytes) of a text."""
    return len(text), len(text.encode("utf-8", "surrogatepass"))


def bytes_chars(data: np.ndarray) -> int:
    """Characters in UTF-8 bytes (N,) uint8/int: the bytes that are not continuation bytes 10xxxxxx."""
    arr = np.asarray(data)
    return int(arr.size - np.count_nonzero((arr & 0xC0) == 0x80))


class Tokenizer:
    """Defaults shared by every kind; subclasses set kind and implement the rest."""

    kind = ""
    reads_bytes = False
    learns_from_train = False
    eos_id = None
    unk_id = None
    unknown_count = 0

    @classmethod
    def from_config(cls, data_cfg: Any) -> "Tokenizer":
        data_settings(data_cfg, cls.kind, ())
        return cls()

    def settings(self) -> dict:
        return {"kind": self.kind}

    def fit(self, text: Any) -> "Tokenizer":
        return self.fit_blocks([text])

    def fit_blocks(self, blocks: Iterable[Any]) -> "Tokenizer":
        for _ in blocks:
            pass
        return self

    def text_size(self, ids: Any) -> tuple[int, int] | None:
        return None

    def stream_decoder(self) -> "StreamDecoder":
        return StreamDecoder(self)


class StreamDecoder:
    """Decodes one id at a time; kinds whose tokens are not whole characters override it."""

    def __init__(self, tokenizer: Tokenizer):
        self.tokenizer = tokenizer

    def feed(self, token_id: int) -> str:
        return self.tokenizer.decode([token_id])

    def prime(self, ids) -> None:
        """Take the ids of text already shown (a prompt), so that what follows it is spaced or
        joined as decode() would do for the whole (a word model puts a space after the prompt)."""
        for token_id in ids:
            self.feed(int(token_id))

    def finish(self) -> str:
        return ""


class Utf8StreamDecoder(StreamDecoder):
    """For kinds whose tokens are bytes or byte strings (byte, bpe; the tokenizer has
    decode_bytes): bytes in one token at a time, whole characters out (an incomplete UTF-8
    sequence waits for its last byte)."""

    def __init__(self, tokenizer):
        super().__init__(tokenizer)
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def feed(self, token_id: int) -> str:
        return self._utf8.decode(self.tokenizer.decode_bytes([token_id]))

    def finish(self) -> str:
        return self._utf8.decode(b"", final=True)
