"""word: one id per word, the vocabulary of word_language_model, Mikolov's RNNLM and PTB.

How text becomes words (data.word_split):
    whitespace   a word is a run of non-space characters ("Hello," is one word)
    punct        a word is a run of letters, digits and underscores, with apostrophes inside
                 ("don't", "o'er"); every other non-space character is a word of its own
                 ("Hello," -> "Hello" ","). The text "<unk>" is one word in both modes.
The text "<eos>" is never in the vocabulary (it would be <unk>).
Each line end is the word <eos> (id 0); words outside the vocabulary become <unk> (id 1). The
vocabulary is the other words of the training text with at least data.min_count occurrences,
most frequent first (ties alphabetical), capped at data.vocab_size ids in all (0 = no cap).
data.lowercase lowercases the text first; data.normalize: nfc NFC-normalises it.

Unknown words: encode(text) maps them to <unk> (unknown="unk", the default here) and sets
unknown_count, which eval reports; the literal text "<unk>" (as in PTB) is <unk> and not counted.

Decoding joins the words of a line with one space and ends each <eos> with a newline, so
decode(encode(text)) is the text with every run of spaces and tabs made one space and spaces at
line starts and ends removed. With word_split: punct there is no space before . , ; : ! ? ) ] }
nor after ( [ {; encode(decode(ids)) == ids for every sequence of words of the vocabulary.
"""

import itertools
import re
from collections import Counter
from typing import Any, Iterable

import numpy as np

from rnnlm.errors import CheckpointError, ConfigError, DataError, UnknownSymbolsError

from .base import (StreamDecoder, Tokenizer, as_ids, check_normalize, check_unknown_policy,
                   data_settings, normalize_text)

EOS, UNK = "<eos>", "<unk>"
SPECIALS = (EOS, UNK)
SPLITS = {"whitespace": re.compile(r"\S+|\n"),
          "punct": re.compile(r"<unk>|\w+(?:['’]\w+)*|[^\w\s]|\n")}
NO_SPACE_BEFORE = frozenset(".,;:!?)]}")
NO_SPACE_AFTER = frozenset("([{")


class WordTokenizer(Tokenizer):
    """Words (split by data.word_split), <eos> at line ends, <unk> for the rest."""

    kind = "word"
    learns_from_train = True
    eos_id, unk_id = 0, 1

    def __init__(self, words: tuple = (), word_split: str = "whitespace", lowercase: bool = False,
                 normalize: str = "none", max_size: int = 0, min_count: int = 1):
        if word_split not in SPLITS:
            raise ValueError(f"word_split must be one of {tuple(SPLITS)}")
        self.word_split, self.lowercase, self.normalize = word_split, lowercase, normalize
        self.max_size, self.min_count = max_size, min_count
        self._pattern = SPLITS[word_split]
        self._set_words(tuple(words))

    @classmethod
    def from_config(cls, data_cfg: Any) -> "WordTokenizer":
        s = data_settings(data_cfg, cls.kind, ("vocab_size", "min_count", "lowercase", "word_split", "normalize"))
        if 0 < s["vocab_size"] < len(SPECIALS) + 1:
            raise ConfigError(f"config key 'data.vocab_size' is {s['vocab_size']}: too small for the word "
                              f"tokenizer, which needs its {len(SPECIALS)} special tokens (<eos>, <unk>) and at "
                              f"least one word: set it >= {len(SPECIALS) + 1}, or 0 for no cap")
        return cls(word_split=s["word_split"], lowercase=s["lowercase"], normalize=s["normalize"],
                   max_size=s["vocab_size"], min_count=s["min_count"])

    def settings(self) -> dict:
        return {"kind": self.kind, "word_split": self.word_split, "lowercase": self.lowercase,
                "normalize": self.normalize, "vocab_size": self.max_size, "min_count": self.min_count}

    def _set_words(self, words: tuple) -> None:
        self.words = SPECIALS + words  # id -> word
        self._index = {w: i for i, w in enumerate(self.words)}  # word -> id
        self._index["\n"] = self.eos_id
        del self._index[EOS]  # "<eos>" in a text is not a line end (it is <unk>)

    @property
    def vocab_size(self) -> int:
        return len(self.words)

    def _split(self, text: str) -> list:
        text = normalize_text(text, self.normalize)
        return self._pattern.findall(text.lower() if self.lowercase else text)

    def fit_blocks(self, blocks: Iterable[str]) -> "WordTokenizer":
        """Count the words of the blocks; keep those with >= min_count, most frequent first."""
        counts: Counter = Counter()
        for text in blocks:
            counts.update(self._split(text))
        for special in ("\n", *SPECIALS):
            counts.pop(special, None)
        kept = sorted((w for w, c in counts.items() if c >= self.min_count), key=lambda w: (-counts[w], w))
        if self.max_size:
            kept = kept[:self.max_size - len(SPECIALS)]
        if not kept:
            raise DataError(f"the training text has no word that occurs data.min_count={self.min_count} "
                            "times: lower data.min_count, or give a longer corpus")
        self._set_words(tuple(kept))
        return self

    def encode(self, text: str, unknown: str = "unk") -> np.ndarray:
        """Text -> ids (N,) int32, <eos> for each line end. unknown="unk": words outside the
        vocabulary become <unk>; "skip": dropped; "error": DataError naming them. Sets unknown_count."""
        check_unknown_policy(unknown)
        if not isinstance(text, str):
            raise TypeError("WordTokenizer.encode takes str")
        words = self._split(text)
        ids = np.fromiter(map(self._index.get, words, itertools.repeat(-1)), dtype=np.int32, count=len(words))
        missing = ids < 0  # (N,) bool
        self.unknown_count = int(np.count_nonzero(missing))
        if not self.unknown_count:
            return ids
        if unknown == "unk":
            ids[missing] = self.unk_id
            return ids
        if unknown == "skip":
            return ids[~missing]
        shown = list(dict.fromkeys(w for w, m in zip(words, missing) if m))
        raise UnknownSymbolsError(f"{len(shown)} word(s) not in the vocabulary, e.g. "
                                  f"{', '.join(map(repr, shown[:5]))}: they would be <unk>", shown[:5], len(shown))

    def decode(self, ids: Any) -> str:
        """ids -> text: words of a line joined by one space, a newline for each <eos>."""
        dec = self.stream_decoder()
        return "".join(dec.feed(i) for i in as_ids(ids, self.vocab_size).tolist()) + dec.finish()

    def stream_decoder(self) -> "WordStreamDecoder":
        return WordStreamDecoder(self)

    def to_dict(self) -> dict:
        return {"kind": "word", "words": list(self.words[len(SPECIALS):]), **self.settings()}

    @classmethod
    def from_dict(cls, d: Any) -> "WordTokenizer":
        words = d.get("words")
        if not isinstance(words, list) or not words or not all(isinstance(w, str) and w for w in words) \
                or len(set(words)) != len(words) or any(w in SPECIALS or w == "\n" for w in words):
            raise CheckpointError("saved word tokenizer has no list of distinct words: the checkpoint is corrupt")
        try:
            return cls(tuple(words), d.get("word_split"), bool(d.get("lowercase")), check_normalize(d.get("normalize")),
                       int(d.get("vocab_size", 0)), int(d.get("min_count", 1)))
        except (ValueError, TypeError, DataError) as e:
            raise CheckpointError(f"saved word tokenizer has a bad setting ({e}): the checkpoint is corrupt") from None


class WordStreamDecoder(StreamDecoder):
    """One id at a time, with the same spacing as decode()."""

    def __init__(self, tokenizer: WordTokenizer):
        super().__init__(tokenizer)
        self._line_start, self._previous = True, ""
        self._punct = tokenizer.word_split == "punct"

    def feed(self, token_id: int) -> str:
        tok = self.tokenizer
        token_id = int(as_ids([token_id], tok.vocab_size)[0])
        if token_id == tok.eos_id:
            self._line_start, self._previous = True, ""
            return "\n"
        word = tok.words[token_id]
        glued = self._line_start or (self._punct and (word in NO_SPACE_BEFORE or self._previous in NO_SPACE_AFTER))
        self._line_start, self._previous = False, word
        return word if glued else " " + word
