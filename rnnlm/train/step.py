"""One optimizer step: the next window, forward and BPTT, the finite check, clipping, the update."""

import math
from dataclasses import dataclass

import numpy as np

from rnnlm.backend import to_device
from rnnlm.diagnostics.probe import probe_record
from rnnlm.model import window_loss_and_grads
from rnnlm.optim import clip_by_norm, clip_by_value, global_norm

from .bptt import next_window


@dataclass
class StepResult:
    """What one step did, for the log, the progress bar and the non-finite guard."""

    nonfinite: bool  # loss or gradient NaN/inf: nothing was updated
    loss: float  # mean cross-entropy of the window, nats/token (without the penalty)
    grad_norm: float  # global gradient norm before clipping
    lr: float
    tokens: int  # tokens whose loss counts in the window (B * T, all ranks together)
    grad_norm_clipped: float | None = None  # after clipping
    clipped: bool = False
    step_norms: np.ndarray | None = None  # (L, T) ‖∂L/∂s_t‖ per layer and time step
    probe: dict | None = None  # the gradient-flow probe's record, on probe steps
    stop: int | None = None  # the signal every rank saw by this step (GracefulStop.requested)
    penalty: float = 0.0  # AR + TAR added to the loss that was differentiated (this rank's rows)


def train_step(run, stop=None) -> StepResult:
    """One step on this rank's rows of the window; under MPI the ranks' gradients, losses,
    tokens, step norms and `stop` (a pending signal) are added up in one Allreduce first."""
    cfg, ts, comm = run.cfg, run.ts, run.comm
    win = next_window(run)  # host arrays (B/K, T); the model ships them to its device
    x, y = win.x, win.y
    state_in = ts.state
    lr = ts.lr_scale * run.schedule(ts.step) * win.lr_factor
    with np.errstate(over="ignore", invalid="ignore"):  # checked just below, reported once
        r = window_loss_and_grads(run.params, run.spec, x, y, ts.state, comm.dropout_rng(ts.rng),
                                  True, win.loss_from, win.carry)
        loss, grads, new_state, norms = r.loss, r.grads, r.state, r.step_norms
        new_tokens = x.shape[0] * (x.shape[1] - win.loss_from)  # k1k2: the k1 new ones
        loss, tokens, norms, stop = comm.reduce_step(grads, loss, new_tokens, norms, stop)
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
                      stop=stop, penalty=r.penalty)
