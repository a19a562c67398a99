"""char: one id per Unicode code point.

The vocabulary is the sorted set of characters of the text it was fitted on, so id i is the i-th
smallest code point. Encoding is vectorised: the text becomes its UTF-32 code points (one numpy
buffer) and np.searchsorted finds each id, no Python loop.
"""

from typing import Any

import numpy as np

from rnnlm.errors import CheckpointError, DataError, UnknownSymbolsError

from .base import Tokenizer, as_ids, check_unknown_policy


class CharTokenizer(Tokenizer):
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
        unknown="skip": drop them ("unk" too: a char vocabulary has no <unk>)."""
        check_unknown_policy(unknown)
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
            if unknown != "error":
                return ids[known].astype(np.int32)
            missing_codes = codes[~known]
            _, first = np.unique(missing_codes, return_index=True)
            shown = [chr(int(c)) for c in missing_codes[np.sort(first)][:5]]
            count = len(first)
            raise UnknownSymbolsError(
                f"{count} character(s) not in the vocabulary, e.g. {', '.join(map(repr, shown))}: "
                "the model was trained on another alphabet (remove them from the text, or train "
                "on a corpus that has them)", shown, count)
        return ids.astype(np.int32)

    def decode(self, ids: Any) -> str:
        """ids (any shape, flattened) -> text; DataError for ids outside the vocabulary."""
        arr = as_ids(ids, self.vocab_size)
        return self._codes[arr].astype("<u4").tobytes().decode("utf-32-le", "surrogatepass")

    def to_dict(self) -> dict:
        return {"kind": "char", "chars": self.chars}

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
        return cls(chars)
