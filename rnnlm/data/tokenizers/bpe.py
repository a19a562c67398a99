"""bpe: byte-level byte-pair encoding, learned from the training text to data.vocab_size ids.

Ids 0..255 are the byte values (so any text encodes, nothing is unknown); each learned merge adds
one id for a pair of existing ids. The text is first cut into chunks that merges never cross:

    a newline alone | an optional space + a run of letters, of digits, of '_' or of other
    non-space characters | a run of spaces/tabs (the last space stays with the next word)

so "  Hello, world!\\n" -> "  " " Hello" "," " world" "!" "\\n". Chunks are UTF-8 encoded and the
merges applied in the order they were learned (bpe_learn.py). Decoding joins the bytes of the
ids: decode(encode(text)) == text for every text (after data.normalize, when nfc). Encoding keeps a
cache chunk -> ids, so a frequent word costs one dictionary lookup.
"""

import itertools
import re
from collections import Counter
from typing import Any, Iterable

import numpy as np

from rnnlm.errors import CheckpointError, ConfigError, DataError

from .base import (Tokenizer, Utf8StreamDecoder, as_ids, bytes_chars, check_normalize,
                   check_unknown_policy, data_settings, normalize_text)
from .bpe_learn import learn_merges

CHUNK = re.compile(r"\n|[^\S\n]?(?:[^\W\d_]+|\d+|_+|[^\w\s]+)|[^\S\n]+(?!\S)|[^\S\n]+")
CACHE_LIMIT = 1 << 20  # chunks remembered by encode before the cache is cleared


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


class BpeTokenizer(Tokenizer):
    """Byte-level BPE: 256 byte ids plus learned merges."""

    kind = "bpe"
    learns_from_train = True

    def __init__(self, merges: list = (), target_size: int = 0, normalize: str = "none"):
        self.target_size, self.normalize = target_size, normalize
        self._set_merges([tuple(m) for m in merges])

    @classmethod
    def from_config(cls, data_cfg: Any) -> "BpeTokenizer":
        s = data_settings(data_cfg, cls.kind, ("vocab_size", "normalize"))
        if s["vocab_size"] <= 256:
            raise ConfigError(f"config key 'data.vocab_size' is {s['vocab_size']}: the bpe tokenizer starts "
                              "from the 256 byte values and needs room for merges: set it above 256, e.g. 1024")
        return cls(target_size=s["vocab_size"], normalize=s["normalize"])

    def settings(self) -> dict:
        return {"kind": self.kind, "vocab_size": self.target_size, "normalize": self.normalize}

    def _set_merges(self, merges: list) -> None:
        self.merges = merges
        self._rank = {pair: 256 + k for k, pair in enumerate(merges)}  # pair -> its new id (= order)
        pieces = [bytes([b]) for b in range(256)]
        for a, b in merges:
            pieces.append(pieces[a] + pieces[b])
        self._pieces = pieces  # id -> bytes
        self._byte_len = np.array([len(p) for p in pieces], dtype=np.int64)  # (V,)
        self._char_len = np.array([bytes_chars(np.frombuffer(p, np.uint8)) for p in pieces], dtype=np.int64)
        self._cache: dict = {}

    @property
    def vocab_size(self) -> int:
        return 256 + len(self.merges)

    def fit_blocks(self, blocks: Iterable[str]) -> "BpeTokenizer":
        """Learn vocab_size - 256 merges from the chunks of the blocks; DataError when the text is
        too small for that many (no pair left that occurs twice)."""
        counts: Counter = Counter()
        for text in blocks:
            counts.update(CHUNK.findall(normalize_text(text, self.normalize)))
        if not counts:
            raise DataError("cannot learn bpe merges from an empty text: give a non-empty corpus")
        want = self.target_size - 256
        merges = learn_merges([(_utf8(c), n) for c, n in counts.items()], want)
        if len(merges) < want:
            raise DataError(f"config key 'data.vocab_size' is {self.target_size} but the training text "
                            f"supports only {256 + len(merges)} bpe ids (no pair of symbols is left that "
                            f"occurs twice): set data.vocab_size <= {256 + len(merges)}, or use a longer corpus")
        self._set_merges(merges)
        return self

    def _encode_chunk(self, chunk: str) -> tuple:
        symbols = list(_utf8(chunk))
        rank = self._rank
        while len(symbols) > 1:
            best = min(zip(symbols, symbols[1:]), key=lambda p: rank.get(p, 1 << 62))
            new_id = rank.get(best)
            if new_id is None:
                break
            out, i, n = [], 0, len(symbols)
            while i < n:
                if i + 1 < n and symbols[i] == best[0] and symbols[i + 1] == best[1]:
                    out.append(new_id)
                    i += 2
                else:
                    out.append(symbols[i])
                    i += 1
            symbols = out
        return tuple(symbols)

    def encode(self, text: str, unknown: str = "error") -> np.ndarray:
        """Text -> ids (N,) int32. Nothing is ever unknown; `unknown` is accepted for a common API."""
        check_unknown_policy(unknown)
        if not isinstance(text, str):
            raise TypeError("BpeTokenizer.encode takes str")
        self.unknown_count = 0
        cache = self._cache
        if len(cache) > CACHE_LIMIT:
            cache.clear()
        chunks = CHUNK.findall(normalize_text(text, self.normalize))
        for chunk in set(chunks).difference(cache):
            cache[chunk] = self._encode_chunk(chunk)
        return np.fromiter(itertools.chain.from_iterable(map(cache.__getitem__, chunks)), dtype=np.int32)

    def decode_bytes(self, ids: Any) -> bytes:
        pieces = self._pieces
        return b"".join(pieces[i] for i in as_ids(ids, self.vocab_size).tolist())

    def decode(self, ids: Any) -> str:
        """ids -> text; bytes that are not valid UTF-8 (a model may sample half a character) become U+FFFD."""
        data = self.decode_bytes(ids)
        try:
            return data.decode("utf-8", "surrogatepass")
        except UnicodeDecodeError:
            return data.decode("utf-8", "replace")

    def text_size(self, ids: Any) -> tuple[int, int]:
        arr = np.asarray(ids).reshape(-1)
        if not arr.size:
            return 0, 0
        return int(self._char_len[arr].sum()), int(self._byte_len[arr].sum())

    def stream_decoder(self) -> "Utf8StreamDecoder":
        return Utf8StreamDecoder(self)

    def to_dict(self) -> dict:
        return {"kind": "bpe", "merges": [list(m) for m in self.merges], **self.settings()}

    @classmethod
    def from_dict(cls, d: Any) -> "BpeTokenizer":
        merges = d.get("merges")
        ok = isinstance(merges, list) and all(
            isinstance(m, list) and len(m) == 2 and all(type(x) is int and 0 <= x < 256 + k for x in m)
            for k, m in enumerate(merges))
        if not ok or len({tuple(m) for m in merges}) != len(merges):
            raise CheckpointError("saved bpe tokenizer has no valid list of merges: the checkpoint is corrupt")
        try:
            return cls(merges, int(d.get("vocab_size", 256 + len(merges))), check_normalize(d.get("normalize")))
        except (ValueError, TypeError, DataError) as e:
            raise CheckpointError(f"saved bpe tokenizer has a bad setting ({e}): the checkpoint is corrupt") from None

