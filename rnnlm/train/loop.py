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

Under MPI (distributed.py) every rank runs this same loop on its rows of the batch: the step adds
up the ranks' gradients in one Allreduce, and run.comm's hooks leave the writing to rank 0.

The pieces: setup.py (a fresh run or a resumed one), step.py (one step -> StepResult), guard.py
(non-finite steps), validate.py (evaluate and checkpoint), state.py (what a checkpoint carries).
Metrics records of a step are written before that step's checkpoint, so on resume dropping the
records after the checkpoint's step leaves exactly one record per step.
"""

import math
import sys
import time
from contextlib import nullcontext
from pathlib import Path

from tqdm import tqdm

from rnnlm.run.lock import RunLock
from rnnlm.run.paths import RunPaths, ensure_dir
from rnnlm.run.signals import NAMES, GracefulStop, Stopped

from .distributed import world
from .guard import on_nonfinite
from .setup import setup
from .state import Clock, Interval
from .step import train_step
from .tensorboard import check_extra, open_writer
from .validate import evaluate_and_checkpoint, save


def run_loop(run, stop=None, progress=True):
    """Train to max_steps. `stop`: a GracefulStop whose flag ends the run after a checkpoint."""
    ts, t, comm = run.ts, run.cfg.train, run.comm
    first_step = ts.step
    # metrics.jsonl, and TensorBoard when train.tensorboard; the root alone writes
    writer = open_writer(run)  # a NullWriter off the root
    bar = tqdm(total=t.max_steps, initial=ts.step, unit="step", file=sys.stderr,
               disable=not (progress and comm.is_root), dynamic_ncols=True)
    interval = Interval(ts)
    clock = Clock(ts)  # ts.seconds, ts.cpu_seconds: train.max_minutes and the records' time
    last_valid = None
    try:
        while ts.step < t.max_steps:
            out = train_step(run, stop.requested if stop is not None else None)
            saved = False
            if out.nonfinite:
                saved = on_nonfinite(run, out, writer)
            else:
                interval.add(out)
                if out.probe is not None:
                    writer.write(out.probe)
                bar.update(1)
                last = ts.step == t.max_steps or _out_of_time(clock, t, comm)
                if ts.step % t.log_every == 0 or last:
                    record = clock.stamp(interval.record(out))
                    record["world_size"] = comm.size
                    writer.write(record)
                    shown = {"loss": f"{record['loss']:.3f}",
                             "tok_s": f"{record['tokens_per_s']:.0f}"}
                    if t.max_minutes:  # the budget that may end the run before max_steps
                        shown["min"] = f"{ts.seconds / 60:.1f}/{t.max_minutes:g}"
                    bar.set_postfix(shown, refresh=False)
                if (t.eval_every and ts.step % t.eval_every == 0) or last:
                    last_valid, saved = evaluate_and_checkpoint(run, writer, clock), True
                    interval.start = time.perf_counter()  # evaluation time is not training speed
                    if t.early_stop and ts.stalls >= t.early_stop:
                        comm.say(f"rnnlm: early stop after step {ts.step}: no new best validation "
                                 f"loss in {ts.stalls} evaluations in a row (train.early_stop="
                                 f"{t.early_stop})")
                        break
                if last and ts.step < t.max_steps:
                    comm.say(f"rnnlm: stopped after step {ts.step}: train.max_minutes="
                             f"{t.max_minutes:g} reached ({ts.seconds / 60:.1f} minutes)")
                    break
            signum = comm.stop_signal(stop, out)  # under MPI: the one every rank saw
            if signum and ts.step < t.max_steps:
                if not saved:
                    save(run)
                raise Stopped(f"stopped by {NAMES.get(signum, signum)} after step {ts.step}; "
                              f"checkpoint written to {run.paths.last}: continue with --resume",
                              signum)
    finally:
        bar.close()
        writer.close()
    return {"steps": ts.step, "first_step": first_step, "tokens": ts.tokens, "valid_loss": last_valid,
            "best_valid_loss": ts.best_valid if math.isfinite(ts.best_valid) else None,
            "clip_rate": ts.clip_count / max(ts.step, 1), "nonfinite_events": ts.nonfinite,
            "minutes": ts.seconds / 60, "cpu_minutes": ts.cpu_seconds / 60,
            "run_dir": str(run.paths.root)}


def _out_of_time(clock, t, comm):
    """Has train.max_minutes passed? Under MPI the root's clock decides for every rank."""
    if not t.max_minutes:
        return False
    clock.tick()
    return bool(comm.share(clock.ts.seconds >= 60 * t.max_minutes))


def train(cfg, out_dir, resume=False, progress=True, overwrite=False, announce=False):
    """Train a model as the config says, in out_dir; returns a summary dict.

    Holds the run directory's lock throughout; SIGINT/SIGTERM stop it after a checkpoint.
    ``announce``: say the run directory once the run has started (a directory the caller chose
    for the user), so a start that fails names no directory it has removed again."""
    if cfg.train.tensorboard:
        check_extra()  # a missing extra is one line, before anything is created
    paths = RunPaths(Path(out_dir))
    created = _missing_dirs(paths.root)
    ensure_dir(paths.root)
    comm = world()  # under mpiexec: this rank; an exception on any rank ends the whole job
    stop = GracefulStop()
    with comm.failing_ends_job():
        try:
            with RunLock(paths.lock) if comm.is_root else nullcontext():
                run = comm.together(lambda: setup(cfg, paths.root, resume, overwrite))
                if announce:
                    comm.say(f"run directory: {paths.root}")
                with stop:
                    return run_loop(run, stop, progress)
        except BaseException:
            if comm.is_root:  # a failed start leaves no empty run directory
                _remove_if_empty([paths.checkpoints, *created])
            raise
        finally:
            stop.release_held()  # the lock is gone: a Ctrl-C held back during cleanup lands now


def _missing_dirs(path):
    """The directories that creating `path` would create, deepest first."""
    missing = []
    for p in [path, *path.parents]:
        if p.exists():
            break
        missing.append(p)
    return missing


def _remove_if_empty(dirs):
    """rmdir each directory that is empty (in order); one holding anything stays untouched."""
    for d in dirs:
        try:
            d.rmdir()
        except OSError:
            pass
