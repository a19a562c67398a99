"""char: one id per Unicode code point.

The vocabulary is the sorted set of characters of the text it was fitted on, so id i is the i-th
smallest code point. With data.normalize: nfc the text is NFC-normalised before fitting and
encoding (a composed "é" and "e" + combining accent become the same one id). Encoding is
vectorised: the text becomes its UTF-32 code points (one numpy buffer) and a lookup table
(code point -> id, -1 for unknown) gives every id at once, no Python loop.
"""

from typing import Any, Iterable

import numpy as np

from rnnlm.errors import CheckpointError, DataError, UnknownSymbolsError

from .base import Tokenizer, as_ids, check_normalize, check_unknown_policy, data_settings, normalize_text


def _code_points(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")  # (N,)


class CharTokenizer(Tokenizer):
    """One token per Unicode code point; vocabulary = sorted characters of the fitted text."""

    kind = "char"

    def __init__(self, chars: str = "", normalize: str = "none"):
        self.normalize = normalize
        self._set_chars(chars)

    @classmethod
    def from_config(cls, data_cfg: Any) -> "CharTokenizer":
        return cls(normalize=data_settings(data_cfg, cls.kind, ("normalize",))["normalize"])

    def settings(self) -> dict:
        return {"kind": self.kind, "normalize": self.normalize}

    def _set_chars(self, chars: str) -> None:
        self.chars = chars  # the vocabulary, in id order
        self._codes = _code_points(chars).copy()  # (V,) sorted code points
        size = int(self._codes.max()) + 1 if chars else 0
        self._table = np.full(size, -1, dtype=np.int32)  # code point -> id, -1 = unknown
        self._table[self._codes] = np.arange(len(self._codes), dtype=np.int32)
        utf8 = [len(c.encode("utf-8", "surrogatepass")) for c in chars]
        self._utf8_len = np.array(utf8, dtype=np.int64)  # (V,) bytes of each character

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def fit_blocks(self, blocks: Iterable[str]) -> "CharTokenizer":
        """Vocabulary = sorted set of the characters of the blocks; returns self."""
        seen: set = set()
        for text in blocks:
            if not isinstance(text, str):
                raise TypeError("CharTokenizer.fit takes str; read the corpus with read_corpus(path, 'char')")
            seen.update(normalize_text(text, self.normalize))
        if not seen:
            raise DataError("cannot fit a char tokenizer on an empty text: give a non-empty corpus")
        self._set_chars("".join(sorted(seen)))
        return self

    def encode(self, text: str, unknown: str = "error") -> np.ndarray:
        """Text -> ids (N,) int32. unknown="error": DataError on characters not in the vocabulary;
        unknown="skip": drop them ("unk" too: a char vocabulary has no <unk>)."""
        check_unknown_policy(unknown)
        if not isinstance(text, str):
            raise TypeError("CharTokenizer.encode takes str")
        codes = _code_points(normalize_text(text, self.normalize))  # (N,)
        self.unknown_count = 0
        if self.vocab_size == 0:
            if codes.size:
                raise DataError("the char tokenizer has an empty vocabulary: fit it on a text first")
            return np.zeros(0, dtype=np.int32)
        inside = codes < self._table.size  # (N,) bool
        ids = self._table[np.where(inside, codes, 0)]  # (N,) int32, -1 where unknown
        known = inside & (ids >= 0)
        if not known.all():
            missing_codes = codes[~known]
            self.unknown_count = int(missing_codes.size)
            if unknown != "error":
                return ids[known]
            _, first = np.unique(missing_codes, return_index=True)
            shown = [chr(int(c)) for c in missing_codes[np.sort(first)][:5]]
            count = len(first)
            raise UnknownSymbolsError(
                f"{count} character(s) not in the vocabulary, e.g. {', '.join(map(repr, shown))}: "
                "the model was trained on another alphabet (remove them from the text, or train "
                "on a corpus that has them)", shown, count)
        return ids

    def decode(self, ids: Any) -> str:
        """ids (any shape, flattened) -> text; DataError for ids outside the vocabulary."""
        arr = as_ids(ids, self.vocab_size)
        return self._codes[arr].astype("<u4").tobytes().decode("utf-32-le", "surrogatepass")

    def text_size(self, ids: Any) -> tuple[int, int]:
        """(characters, UTF-8 bytes): one character per id."""
        arr = np.asarray(ids).reshape(-1)
        return int(arr.size), int(self._utf8_len[arr].sum()) if arr.size else 0

    def to_dict(self) -> dict:
        return {"kind": "char", "chars": self.chars, "normalize": self.normalize}

    @classmethod
    def from_dict(cls, d: Any) -> "CharTokenizer":
        chars = d.get("chars")
        if isinstance(chars, list) and all(isinstance(c, str) and len(c) == 1 for c in chars):
            chars = "".join(chars)
        if not isinstance(chars, str) or not chars:
            raise CheckpointError("saved char tokenizer has no 'chars' string: the checkpoint is corrupt")
        codes = [ord(c) for c in chars]
        if any(a >= b for a, b in zip(codes, codes[1:])):
            raise CheckpointError("saved char vocabulary is not sorted and unique: the checkpoint is corrupt")
        try:
            normalize = check_normalize(d.get("normalize", "none"))
        except DataError as e:
            raise CheckpointError(f"{e}: the checkpoint is corrupt") from None
        return cls(chars, normalize)
