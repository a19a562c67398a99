"""One optimizer step: the next window, forward and BPTT, the finite check, clipping, the update."""

import math
from dataclasses import dataclass

import numpy as np

from rnnlm.backend import to_device
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
    tokens: int  # tokens in the window (B * T, all ranks together)
    grad_norm_clipped: float | None = None  # after clipping
    clipped: bool = False
    step_norms: np.ndarray | None = None  # (L, T) ‖∂L/∂s_t‖ per layer and time step
    probe: dict | None = None  # the gradient-flow probe's record, on probe steps
    stop: int | None = None  # the signal every rank saw by this step (GracefulStop.requested)


def next_window(run):
    """(x, y) of the next training window, (B, T) each; a new pass starts from a zero state."""
    ts = run.ts
    if ts.epoch == 0 or ts.window >= num_windows(run.streams, run.cfg.train.bptt):
        # a new pass (the first one too) begins at window 0 from a zero state
        ts.epoch, ts.window = ts.epoch + 1, 0
        ts.state = zero_state(run.spec, run.streams.shape[0], run.dtype, run.xp)
    x, y = window(run.streams, ts.window, run.cfg.train.bptt)
    ts.window += 1
    return x, y


def train_step(run, stop=None) -> StepResult:
    """One step on this rank's rows of the window; under MPI the ranks' gradients, losses,
    tokens, step norms and `stop` (a pending signal) are added up in one Allreduce first."""
    cfg, ts, comm = run.cfg, run.ts, run.comm
    x, y = next_window(run)  # host arrays (B/K, T); the model ships them to its device
    state_in = ts.state
    lr = ts.lr_scale * run.schedule(ts.step)
    with np.errstate(over="ignore", invalid="ignore"):  # checked just below, reported once
        loss, grads, new_state, norms = loss_and_grads(run.params, run.spec, x, y, ts.state,
                                                       comm.dropout_rng(ts.rng), train=True)
        loss, tokens, norms, stop = comm.reduce_step(grads, loss, x.size, norms, stop)
        norm = global_norm(grads)  # before clipping: clipping would turn inf into NaN
    if not (math.isfinite(loss) and math.isfinite(norm)):
        return StepResult(True, loss, norm, lr, tokens, stop=stop)
    probe = None
    if cfg.train.probe_every and (ts.step + 1) % cfg.train.probe_every == 0:
        # Probe the parameters this step's gradient was taken at, on the same window: the whole
        # batch's, gathered on the root under MPI.
        batch = comm.gather_rows([x, y, *(s for layer in state_in for s in layer)])
        if batch is not None:
            gx, gy, flat = batch[0], batch[1], iter(batch[2:])
            gstate = tuple(tuple(to_device(next(flat), run.xp) for _ in layer)
                           for layer in state_in)
            probe = probe_record(run.params, run.spec, gx, gy, gstate, ts.step + 1, grads)
    _, norm_after, clipped = clip_by_norm(grads, cfg.optim.clip_norm, norm)
    value_clipped = clip_by_value(grads, cfg.optim.clip_value)
    run.opt.step(run.params, grads, lr)
    ts.state = new_state
    ts.step += 1
    ts.bad_streak = 0
    ts.tokens += tokens
    ts.clip_count += bool(clipped or value_clipped)
    return StepResult(False, loss, norm, lr, tokens,
                      grad_norm_clipped=norm_after if not value_clipped else global_norm(grads),
                      clipped=bool(clipped or value_clipped), step_norms=norms, probe=probe,
                      stop=stop)
