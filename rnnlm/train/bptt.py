"""The BPTT modes (train.bptt_mode): which window of the B training streams a step trains on,
which of its positions count in the loss, the state it carries on, and its learning-rate factor.

    fixed     windows [iT, (i+1)T) one after the other (T = train.bptt), the state carried from
              each window's end; every position counts. (ts.window = i)
    k1k2      Mikolov's bptt-block: an update every k1 new tokens, backpropagated through the
              last k2 >= k1 steps. Update j's new tokens are the columns [s, e), s = j*k1,
              e = min(s + k1, N-1); its window is [c, e) with c = max(0, s + k1 - k2), which
              starts from the state at column c. The loss is the mean cross-entropy of the new
              positions only (each token counts once per pass); the k2 - k1 older positions
              before them carry the gradient back and add no loss. Forward and backward run over
              the whole window with this step's parameters (the overlap with the last window is
              recomputed, not reused with older weights as in Mikolov's rnnlm). The state carried
              to update j+1 is the one at column c' = max(0, e + k1 - k2), taken by running the
              first c' - c steps again with the window's own masks (train.k2 = 0: k2 = bptt).
              (ts.position = s; ts.state is the state at column c)
    variable  AWD-LSTM: each window's length is drawn from the run's generator (ts.rng, so a
              resumed run draws the same): mean bptt with probability bptt_p, else bptt/2;
              T = max(bptt_min, int(N(mean, bptt_std))), at most 2 * bptt (memory). The window
              is [s, min(s + T, N-1)) and the learning rate of the step is scaled by its length
              / bptt (the loss is a mean per token: a short window would otherwise move the
              weights as far as a long one). (ts.position = s)

Every mode starts a pass at column 0 from a zero state and ends it at the streams' end; the
last window may be shorter. Step norms have the window's own length (L, T).
"""

from typing import NamedTuple

import numpy as np

from rnnlm.data.batching import num_windows, window
from rnnlm.model import zero_state


class Window(NamedTuple):
    x: np.ndarray  # (B, T) inputs
    y: np.ndarray  # (B, T) next tokens
    loss_from: int  # positions before this one add no loss (k1k2)
    carry: int | None  # the state carried on is the one after this many steps (None: the end)
    lr_factor: float  # the learning rate of this step is multiplied by this (variable)


def next_window(run) -> Window:
    """The next training window of this rank's streams, advancing ts (new pass: zero state)."""
    t = run.cfg.train
    if t.bptt_mode == "fixed":
        return _fixed(run)
    ts, N = run.ts, run.streams.shape[1]
    if ts.epoch == 0 or ts.position >= N - 1:
        _new_pass(run)
    s = ts.position
    if t.bptt_mode == "k1k2":
        k1, k2 = t.k1, t.k2 or t.bptt
        e = min(s + k1, N - 1)
        c = max(0, s + k1 - k2)
        x, y = _columns(run.streams, c, e)
        ts.position = e
        return Window(x, y, s - c, max(0, e + k1 - k2) - c, 1.0)
    length = variable_length(ts.rng, t.bptt, t.bptt_std, t.bptt_p, t.bptt_min)
    e = min(s + length, N - 1)
    x, y = _columns(run.streams, s, e)
    ts.position = e
    return Window(x, y, 0, None, (e - s) / t.bptt)


def variable_length(rng, bptt, std, p, minimum):
    """AWD-LSTM's window length: N(bptt, std) with probability p, else N(bptt/2, std); at least
    `minimum`, at most 2 * bptt. Two draws from rng, always (so the sequence does not depend on
    which branch was taken)."""
    mean = bptt if rng.random() < p else bptt / 2
    return int(min(max(minimum, int(rng.normal(mean, std))), 2 * bptt))


def _fixed(run):
    ts, bptt = run.ts, run.cfg.train.bptt
    if ts.epoch == 0 or ts.window >= num_windows(run.streams, bptt):
        _new_pass(run)
        ts.window = 0
    x, y = window(run.streams, ts.window, bptt)
    ts.window += 1
    return Window(x, y, 0, None, 1.0)


def _new_pass(run):
    """A new pass (the first one too) begins at column 0 from a zero state."""
    ts = run.ts
    ts.epoch, ts.position = ts.epoch + 1, 0
    ts.state = zero_state(run.spec, run.streams.shape[0], run.dtype, run.xp)


def _columns(streams, start, stop):
    """x = streams[:, start:stop], y = the next token of each, int32 (B, stop - start)."""
    x = streams[:, start:stop].astype(np.int32, copy=False)
    y = streams[:, start + 1:stop + 1].astype(np.int32, copy=False)
    return x, y
