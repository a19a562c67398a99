"""Batching: the ids of a split -> B parallel streams -> (x, y) windows.

Truncated BPTT over B streams: the text of a split is cut into B contiguous streams, one per
batch row, and the model walks all B streams left to right, T columns at a time, carrying its
hidden state from one window to the next. The targets y are the inputs x shifted by one.
"""

from typing import Iterator

import numpy as np

from rnnlm.errors import ConfigError, DataError


def batchify(ids: np.ndarray, batch_size: int) -> np.ndarray:
    """Cut ids (N_total,) into B = batch_size contiguous streams: an array (B, N), N = N_total // B.

    The streams are int32, except that the id cache's uint16/uint32 memory maps stay what they are
    (a view, not a copy: a corpus larger than memory is batched without reading it).

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
    ids = np.asarray(ids).reshape(-1)  # (N_total,)
    if ids.dtype not in (np.dtype("<u2"), np.dtype("<u4")):
        ids = ids.astype(np.int32, copy=False)
    n = len(ids) // batch_size
    return ids[:batch_size * n].reshape(batch_size, n)  # (B, N)


def num_windows(streams: np.ndarray, bptt: int) -> int:
    """Number of windows of length <= bptt covering the N-1 positions that have a next token."""
    positions = max(streams.shape[1] - 1, 0)
    return -(-positions // bptt)  # ceil


def window(streams: np.ndarray, i: int, bptt: int) -> tuple[np.ndarray, np.ndarray]:
    """Window i: x = streams[:, i*T : i*T+t], y = streams[:, i*T+1 : i*T+1+t], both int32 (B, t).

    t = bptt except for the last window, which is shorter (t >= 1) so that no position is wasted."""
    n_win = num_windows(streams, bptt)
    if not 0 <= i < n_win:
        raise IndexError(f"window {i} out of range: these streams have {n_win} windows of length {bptt}")
    start = i * bptt
    t = min(bptt, streams.shape[1] - 1 - start)
    x = streams[:, start:start + t].astype(np.int32, copy=False)  # (B, t)
    y = streams[:, start + 1:start + 1 + t].astype(np.int32, copy=False)  # (B, t) the next token of each x
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
