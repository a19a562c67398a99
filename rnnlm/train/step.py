"""One optimizer step: the next window, forward and BPTT, the finite check, clipping, the update."""

import math
from dataclasses import dataclass

import numpy as np

from rnnlm.data.batching import num_windows, window
from rnnlm.diagnostics.probe import probe_record
from rnnlm.model import loss_and_grads, zero_state
from rnnlm.optim import clip_by_norm, clip_by_value, global_norm


@dataclass
class StepResult:
    """What one step did, for the log, the progress bar and the non-finite guard."""

    nonfinite: bool  # loss or gradient NaN/inf: nothing was updated
    loss: float  # mean loss of the window, nats/token
    grad_norm: float  # global gradient norm before clipping
    lr: float
    tokens: int  # tokens in the window (B * T)
    grad_norm_clipped: float | None = None  # after clipping
    clipped: bool = False
    step_norms: np.ndarray | None = None  # (L, T) ‖∂L/∂s_t‖ per layer and time step
    probe: dict | None = None  # the gradient-flow probe's record, on probe steps


def next_window(run):
    """(x, y) of the next training window, (B, T) each; a new pass starts from a zero state."""
    ts = run.ts
    if ts.epoch == 0 or ts.window >= num_windows(run.streams, run.cfg.train.bptt):
        # a new pass (the first one too) begins at window 0 from a zero state
        ts.epoch, ts.window = ts.epoch + 1, 0
        ts.state = zero_state(run.spec, run.streams.shape[0], run.dtype)
    x, y = window(run.streams, ts.window, run.cfg.train.bptt)
    ts.window += 1
    return x, y


def train_step(run) -> StepResult:
    cfg, ts = run.cfg, run.ts
    x, y = next_window(run)
    state_in = ts.state
    lr = ts.lr_scale * run.schedule(ts.step)
    with np.errstate(over="ignore", invalid="ignore"):  # checked just below, reported once
        loss, grads, new_state, norms = loss_and_grads(run.params, run.spec, x, y, ts.state,
                                                       ts.rng, train=True)
        norm = global_norm(grads)  # before clipping: clipping would turn inf into NaN
    if not (math.isfinite(loss) and math.isfinite(norm)):
        return StepResult(True, loss, norm, lr, x.size)
    probe = None
    if cfg.train.probe_every and (ts.step + 1) % cfg.train.probe_every == 0:
        # Probe the parameters this step's gradient was taken at, on the same window.
        probe = probe_record(run.params, run.spec, x, y, state_in, ts.step + 1, grads)
    _, norm_after, clipped = clip_by_norm(grads, cfg.optim.clip_norm, norm)
    value_clipped = clip_by_value(grads, cfg.optim.clip_value)
    run.opt.step(run.params, grads, lr)
    ts.state = new_state
    ts.step += 1
    ts.bad_streak = 0
    ts.tokens += x.size
    ts.clip_count += bool(clipped or value_clipped)
    return StepResult(False, loss, norm, lr, x.size,
                      grad_norm_clipped=norm_after if not value_clipped else global_norm(grads),
                      clipped=bool(clipped or value_clipped), step_norms=norms, probe=probe)
