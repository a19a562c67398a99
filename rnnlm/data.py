"""Data: corpus -> ids -> train/valid/test splits -> B parallel streams -> (x, y) windows.

Truncated BPTT over B streams: the text of a split is cut into B contiguous streams, one per
batch row, and the model walks all B streams left to right, T columns at a time, carrying its
hidden state from one window to the next. The targets y are the inputs x shifted by one.
"""

import os
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np

from rnnlm.errors import ConfigError, DataError
from rnnlm.tokenizers import Tokenizer, make_tokenizer, read_corpus


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


def batchify(ids: np.ndarray, batch_size: int) -> np.ndarray:
    """Cut ids (N_total,) into B = batch_size contiguous streams: an int32 array (B, N), N = N_total // B.

    Stream b is row b and holds ids[b*N : (b+1)*N]; the last N_total - B*N ids are dropped.

        ids:   a0 a1 a2 a3 | b0 b1 b2 b3 | c0 c1 c2 c3 | r      (13 ids, B = 3 -> N = 4, r dropped)

        streams (B, N), T = 2:
                   window 0  window 1
          row 0:   [a0 a1]   [a2]  a3     x of window i = columns [i*T, i*T+t)
          row 1:   [b0 b1]   [b2]  b3     y of window i = the same columns + 1,
          row 2:   [c0 c1]   [c2]  c3     so the last column is only ever a target

    Row b is one long text read left to right; its hidden state carries from window to window.
    """
    if batch_size < 1:
        raise ConfigError(f"config key 'train.batch_size' must be >= 1, got {batch_size}")
    ids = np.asarray(ids, dtype=np.int32).reshape(-1)  # (N_total,)
    n = len(ids) // batch_size
    return ids[:batch_size * n].reshape(batch_size, n)  # (B, N)


def num_windows(streams: np.ndarray, bptt: int) -> int:
    """Number of windows of length <= bptt covering the N-1 positions that have a next token."""
    positions = max(streams.shape[1] - 1, 0)
    return -(-positions // bptt)  # ceil


def window(streams: np.ndarray, i: int, bptt: int) -> tuple[np.ndarray, np.ndarray]:
    """Window i: x = streams[:, i*T : i*T+t], y = streams[:, i*T+1 : i*T+1+t], both int32 (B, t) views.

    t = bptt except for the last window, which is shorter (t >= 1) so that no position is wasted."""
    n_win = num_windows(streams, bptt)
    if not 0 <= i < n_win:
        raise IndexError(f"window {i} out of range: these streams have {n_win} windows of length {bptt}")
    start = i * bptt
    t = min(bptt, streams.shape[1] - 1 - start)
    x = streams[:, start:start + t]  # (B, t)
    y = streams[:, start + 1:start + 1 + t]  # (B, t) the next token of each x
    return x, y


def iter_windows(streams: np.ndarray, bptt: int, start: int = 0) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """(i, x, y) for windows start, start+1, ... to the end (an epoch, or the rest of one after a resume)."""
    for i in range(start, num_windows(streams, bptt)):
        x, y = window(streams, i, bptt)
        yield i, x, y


def check_trainable(n_train_tokens: int, batch_size: int, bptt: int) -> None:
    """DataError unless the training split fills at least one full window: B * (T + 1) tokens."""
    need = batch_size * (bptt + 1)
    if n_train_tokens < need:
        raise DataError(f"the training split has {n_train_tokens} tokens but train.batch_size={batch_size} x "
                        f"(train.bptt={bptt} + 1) = {need} are needed: lower train.batch_size or train.bptt, "
                        "or use a longer corpus")


def load_splits(corpus: str | os.PathLike, tokenizer_name: str, valid_fraction: float, test_fraction: float,
                tokenizer: Any = None) -> Corpus:
    """Read the corpus, fit the tokenizer on the WHOLE text (so valid/test have no unknown characters),
    encode and split. Pass a saved `tokenizer` (e.g. from a checkpoint) to reuse it instead of fitting;
    its kind then decides how the file is read."""
    if tokenizer is not None:
        tokenizer_name = tokenizer.kind
    text = read_corpus(corpus, tokenizer_name)
    if tokenizer is None:
        tokenizer = make_tokenizer(tokenizer_name).fit(text)
    ids = tokenizer.encode(text)  # (N_total,) int32
    train, valid, test = split_ids(ids, valid_fraction, test_fraction)
    return Corpus(tokenizer, train, valid, test)


def load_corpus(data_cfg: Any, tokenizer: Any = None) -> Corpus:
    """load_splits from a DataConfig (config.data)."""
    return load_splits(data_cfg.corpus, data_cfg.tokenizer, data_cfg.valid_fraction, data_cfg.test_fraction,
                       tokenizer)
