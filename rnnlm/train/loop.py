"""The training loop, in one screen:

    for each step:
        x, y = next window of the B training streams     # state carried from the last window
        loss, grads, state = forward + backward (BPTT inside this window only)
        check loss and gradient norm are finite           # before clipping: clipping turns inf into NaN
        clip (global norm, then value); optimizer step
        every log_every: one "train" line in metrics.jsonl, with ‖∂L/∂h_t‖ for every t and layer
        every eval_every: validation loss, checkpoints last (and best when it improved);
                          optimizer and schedule observe it; train.early_stop may end the run
        on SIGINT/SIGTERM: finish the step, checkpoint, exit 130/143

The pieces: setup.py (a fresh run or a resumed one), step.py (one step -> StepResult), guard.py
(non-finite steps), validate.py (evaluate and checkpoint), state.py (what a checkpoint carries).
Metrics records of a step are written before that step's checkpoint, so on resume dropping the
records after the checkpoint's step leaves exactly one record per step.
"""

import math
import sys
import time
from pathlib import Path

from tqdm import tqdm

from rnnlm.console import say
from rnnlm.run.lock import RunLock
from rnnlm.run.metrics import MetricsWriter
from rnnlm.run.paths import RunPaths, ensure_dir
from rnnlm.run.signals import GracefulStop, Stopped

from .guard import on_nonfinite
from .setup import setup
from .state import Interval
from .step import train_step
from .validate import evaluate_and_checkpoint, save


def run_loop(run, stop=None, progress=True):
    """Train to max_steps. `stop`: a GracefulStop whose flag ends the run after a checkpoint."""
    ts, t = run.ts, run.cfg.train
    writer = MetricsWriter(run.paths.metrics)
    bar = tqdm(total=t.max_steps, initial=ts.step, unit="step", file=sys.stderr,
               disable=not progress, dynamic_ncols=True)
    interval = Interval(ts)
    last_valid = None
    try:
        while ts.step < t.max_steps:
            out = train_step(run)
            saved = False
            if out.nonfinite:
                saved = on_nonfinite(run, out, writer)
            else:
                interval.add(out)
                if out.probe is not None:
                    writer.write(out.probe)
                bar.update(1)
                if ts.step % t.log_every == 0 or ts.step == t.max_steps:
                    record = interval.record(out)
                    writer.write(record)
                    bar.set_postfix(loss=f"{record['loss']:.3f}",
                                    tok_s=f"{record['tokens_per_s']:.0f}", refresh=False)
                if (t.eval_every and ts.step % t.eval_every == 0) or ts.step == t.max_steps:
                    last_valid, saved = evaluate_and_checkpoint(run, writer), True
                    interval.start = time.perf_counter()  # evaluation time is not training speed
                    if t.early_stop and ts.stalls >= t.early_stop:
                        say(f"rnnlm: early stop after step {ts.step}: no new best validation loss "
                            f"in {ts.stalls} evaluations in a row (train.early_stop={t.early_stop})")
                        break
            if stop is not None and stop.requested and ts.step < t.max_steps:
                if not saved:
                    save(run)
                raise Stopped(f"stopped by {stop.name} after step {ts.step}; checkpoint "
                              f"written to {run.paths.last}: continue with --resume",
                              stop.requested)
    finally:
        bar.close()
        writer.close()
    return {"steps": ts.step, "tokens": ts.tokens, "valid_loss": last_valid,
            "best_valid_loss": ts.best_valid if math.isfinite(ts.best_valid) else None,
            "clip_rate": ts.clip_count / max(ts.step, 1), "nonfinite_events": ts.nonfinite,
            "run_dir": str(run.paths.root)}


def train(cfg, out_dir, resume=False, progress=True, overwrite=False):
    """Train a model as the config says, in out_dir; returns a summary dict.

    Holds the run directory's lock throughout; SIGINT/SIGTERM stop it after a checkpoint."""
    paths = RunPaths(Path(out_dir))
    ensure_dir(paths.root)
    stop = GracefulStop()
    try:
        with RunLock(paths.lock):
            run = setup(cfg, paths.root, resume, overwrite)
            with stop:
                return run_loop(run, stop, progress)
    finally:
        stop.release_held()  # the lock is gone: a Ctrl-C held back during cleanup lands now
