"""The corpus: where the text comes from, the fitted tokenizer, the ids of train/valid/test.

Two layouts (config data section):
    data.corpus + fractions    one file; valid and test are the last shares of it. char and byte
                               fit on the whole file and cut its ids (today's behaviour); word and
                               bpe learn their vocabulary from the train share only, so the file
                               is cut at the line ends nearest the two fractions of its bytes.
    data.train/valid/test      separate files (PTB / WikiText); word and bpe learn from the train
                               file, char fits on all of them.
The files are read in blocks and their ids cached (idcache.py): the splits are memory maps.

read_corpus() reads a small text whole (eval --text): raw bytes for a tokenizer that reads bytes;
else strict UTF-8 with a leading BOM stripped and CRLF / lone CR turned into LF, so the same text
gives the same vocabulary on every platform.
"""

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rnnlm.errors import ConfigError, TextFileError

from . import idcache
from .reader import check_file, decode_block, iter_blocks, line_cuts
from .tokenizers import Tokenizer, make_tokenizer, tokenizer_class

SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class Corpus:
    """A tokenizer and the three splits of the corpus as id arrays (N,) (memory maps of the cache).

    sizes[split]: {"tokens", "chars", "bytes", "unknown"} of the split's text; files: the fingerprint
    ({"path", "size", "mtime_ns", "sha256"}) of each source file, by role (corpus, or train/valid/test)."""

    tokenizer: Tokenizer
    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    sizes: dict = field(default_factory=dict)
    files: dict = field(default_factory=dict)


def split_ids(ids: np.ndarray, valid_fraction: float, test_fraction: float
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Contiguous (train, valid, test) views: train first, then valid, then test at the end.

    Sizes are floor(N * fraction) for valid and test; a fraction of 0 gives an empty split."""
    _check_fractions(valid_fraction, test_fraction)
    n = len(ids)
    n_valid = int(n * valid_fraction)
    n_test = int(n * test_fraction)
    n_train = n - n_valid - n_test
    return ids[:n_train], ids[n_train:n_train + n_valid], ids[n_train + n_valid:]


def _check_fractions(valid_fraction: float, test_fraction: float) -> None:
    for name, frac in (("data.valid_fraction", valid_fraction), ("data.test_fraction", test_fraction)):
        if not 0.0 <= frac < 0.5:
            raise ConfigError(f"config key '{name}' must be >= 0 and < 0.5, got {frac!r}")


def read_corpus(path: str | os.PathLike, tokenizer_name: str) -> str | bytes:
    """A whole text file: raw bytes for a tokenizer that reads bytes (byte); for the others UTF-8
    text, BOM stripped, line ends -> LF."""
    reads_bytes = tokenizer_class(tokenizer_name).reads_bytes  # ConfigError for an unknown kind
    p = check_file(path)
    raw = p.read_bytes()
    if reads_bytes:
        return raw
    text = decode_block(raw, 0, p)
    if not text:
        raise TextFileError(p, "has no text after its byte-order mark", "give a non-empty corpus")
    return text


def data_files(data_cfg: Any) -> dict:
    """{role: absolute Path} of the config's data files: {"corpus": ...} or {"train", "valid"[, "test"]}."""
    if getattr(data_cfg, "train", ""):
        roles = {"train": data_cfg.train, "valid": data_cfg.valid, "test": data_cfg.test}
    else:
        roles = {"corpus": data_cfg.corpus}
    return {role: Path(p).expanduser().absolute() for role, p in roles.items() if p}


def _parts(files: dict, learns_from_train: bool, valid_fraction: float, test_fraction: float):
    """{split: (path, lo, hi)} to encode, the parts to fit on, and whether to cut the ids by fractions."""
    if "corpus" in files:
        _check_fractions(valid_fraction, test_fraction)
        whole = files["corpus"]
        if not learns_from_train:
            return {"corpus": (whole, 0.0, 1.0)}, [(whole, 0.0, 1.0)], True
        a, b = 1.0 - valid_fraction - test_fraction, 1.0 - test_fraction
        parts = {"train": (whole, 0.0, a), "valid": (whole, a, b), "test": (whole, b, 1.0)}
        return parts, [parts["train"]], False
    parts = {split: (files[split], 0.0, 1.0) for split in SPLITS if split in files}
    fit_on = [parts["train"]] if learns_from_train else list(parts.values())
    return parts, fit_on, False


def _blocks(path: Path, tokenizer_cls, lo: float, hi: float):
    """A function giving the blocks of path's part lo..hi (cut at line ends)."""
    def blocks():
        start, end = (0, None) if (lo, hi) == (0.0, 1.0) else line_cuts(path, (lo, hi))
        return iter_blocks(path, tokenizer_cls.reads_bytes, start, end, whole_words=not tokenizer_cls.reads_bytes)
    return blocks


def _fit(tokenizer, fit_on):
    def fit(tok):
        def all_blocks():
            for path, lo, hi in fit_on:
                yield from _blocks(path, type(tok), lo, hi)()
        return tok.fit_blocks(all_blocks())
    return idcache.cached_vocabulary(tokenizer, fit_on, fit)


def load_corpus(data_cfg: Any, tokenizer: Any = None) -> Corpus:
    """The corpus of a DataConfig (config.data). Pass a saved `tokenizer` (e.g. from a checkpoint)
    to reuse it instead of fitting; its kind then decides how the files are read."""
    kind = tokenizer.kind if tokenizer is not None else data_cfg.tokenizer
    cls = tokenizer_class(kind)
    files = data_files(data_cfg)
    for role, path in files.items():
        check_file(path, "corpus" if role == "corpus" else f"{role} file", f"data.{role}")
    parts, fit_on, cut_ids = _parts(files, cls.learns_from_train, data_cfg.valid_fraction, data_cfg.test_fraction)
    if tokenizer is None:
        tokenizer = _fit(make_tokenizer(kind, data_cfg), fit_on)
    fingerprints, encoded = {}, {}
    for name, (path, lo, hi) in parts.items():
        encoded[name] = idcache.encode_part(path, tokenizer, lo, hi, _blocks(path, cls, lo, hi))
        fingerprints["corpus" if "corpus" in files else name] = encoded[name].fingerprint
    if cut_ids:
        enc = encoded["corpus"]
        splits = dict(zip(SPLITS, split_ids(enc.ids, data_cfg.valid_fraction, data_cfg.test_fraction)))
        sizes, start = {}, 0
        for name in SPLITS:
            n = len(splits[name])
            chars, nbytes = idcache.range_size(tokenizer, enc, start, start + n)
            sizes[name] = {"tokens": n, "chars": chars, "bytes": nbytes, "unknown": 0}
            start += n
    else:
        empty = np.zeros(0, np.uint16)
        splits = {name: encoded[name].ids if name in encoded else empty for name in SPLITS}
        sizes = {name: {"tokens": len(e.ids), "chars": e.chars, "bytes": e.bytes, "unknown": e.unknown}
                 for name, e in encoded.items()}
    return Corpus(tokenizer, splits["train"], splits["valid"], splits["test"], sizes, fingerprints)


def load_splits(corpus: str | os.PathLike, tokenizer_name: str, valid_fraction: float, test_fraction: float,
                tokenizer: Any = None, data_cfg: Any = None) -> Corpus:
    """load_corpus for one file cut by fractions (data_cfg gives the tokenizer's settings)."""
    from types import SimpleNamespace
    settings = {k: getattr(data_cfg, k) for k in ("vocab_size", "min_count", "lowercase", "word_split", "normalize")
                if data_cfg is not None and hasattr(data_cfg, k)}
    cfg = SimpleNamespace(corpus=str(corpus), train="", valid="", test="", tokenizer=tokenizer_name,
                          valid_fraction=valid_fraction, test_fraction=test_fraction, **settings)
    return load_corpus(cfg, tokenizer)


def absolute_paths(cfg: Any) -> Any:
    """cfg with its data paths made absolute (against the current directory), for the saved config."""
    import dataclasses
    data = cfg.data
    fixed = {k: str(Path(getattr(data, k)).expanduser().absolute()) for k in ("corpus", "train", "valid", "test")
             if getattr(data, k)}
    return dataclasses.replace(cfg, data=dataclasses.replace(data, **fixed))
