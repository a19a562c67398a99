"""What every tokenizer is: text <-> int32 ids, a vocabulary it saves with the run.

A tokenizer kind is one module of this package, registered in rnnlm/registry.py (TOKENIZERS). The
class implements:

    kind                      its registry name, also stored in to_dict()["kind"]
    reads_bytes               True when it reads the corpus as raw bytes (byte), else UTF-8 text
    vocab_size                number of ids V; ids are 0 .. V-1
    eos_id, unk_id            ids of the end-of-sequence and unknown tokens, or None
    from_config(data_cfg)     an unfitted tokenizer with the settings of the config's data section
    fit(text)                 learn the vocabulary from the training text; returns self
    encode(text, unknown)     text -> ids (N,) int32; unknown = "error" (DataError naming the
                              symbols), "skip" (drop them) or "unk" (map them to <unk>, where
                              the kind has one)
    decode(ids)               ids -> text
    stream_decoder()          an object with feed(id) -> str and finish() -> str that decodes
                              one id at a time for streamed output (byte holds back an incomplete
                              UTF-8 sequence until it completes)
    to_dict(), from_dict(d)   a JSON-safe dict saved in every checkpoint, and back; from_dict
                              raises CheckpointError on anything malformed
"""

from typing import Any

import numpy as np

from rnnlm.errors import DataError

UNKNOWN_POLICIES = ("error", "skip", "unk")


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


class Tokenizer:
    """Defaults shared by every kind; subclasses set kind and implement the rest."""

    kind = ""
    reads_bytes = False
    eos_id = None
    unk_id = None

    @classmethod
    def from_config(cls, data_cfg: Any) -> "Tokenizer":
        return cls()

    def stream_decoder(self) -> "StreamDecoder":
        return StreamDecoder(self)


class StreamDecoder:
    """Decodes one id at a time; kinds whose tokens are not whole characters override it."""

    def __init__(self, tokenizer: Tokenizer):
        self.tokenizer = tokenizer

    def feed(self, token_id: int) -> str:
        return self.tokenizer.decode([token_id])

    def finish(self) -> str:
        return ""
