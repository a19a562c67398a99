"""The training loop: windows, forward, loss, backward, clip, step, evaluate, log, checkpoint.

    for each step:
        x, y = next window of the B training streams     # state carried from the last window
        loss, grads, state = forward + backward (BPTT inside this window only)
        check loss and gradient norm are finite           # before clipping: clipping turns inf into NaN
        clip (global norm, then value); optimizer step
        every log_every: one "train" line in metrics.jsonl, with ‖∂L/∂h_t‖ for every t and layer
        every eval_every: validation loss, checkpoints last (and best when it improved)
        on SIGINT/SIGTERM: finish the step, checkpoint, exit 130/143

Everything that changes from step to step lives in TrainState (trainstate.py) and goes into the
checkpoint, so a resumed run continues bit for bit. Metrics records of a step are written before
that step's checkpoint, so on resume dropping the records after the checkpoint's step leaves
exactly one record per step.
"""

import math
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from . import model
from .config import save_config
from .data import batchify, check_trainable, load_corpus, num_windows, window
from .diagnostics import probe_record
from .errors import CheckpointError, DataError, RnnlmError
from .evaluate import evaluate_streams, summary
from .lock import RunLock
from .optim import clip_by_norm, clip_by_value, global_norm, learning_rate, make_optimizer
from .runs import MetricsWriter, RunPaths, ensure_dir, spec_from_config, truncate_metrics
from .signals import GracefulStop, Stopped
from .tokenizers import tokenizer_from_dict
from .trainstate import (Interval, check_compatible, find_checkpoint, fresh_state, restore,
                         save_training, training_checkpoint)

MAX_BAD_STREAK = 20  # non-finite steps in a row before giving up


def _say(msg):
    tqdm.write(msg, file=sys.stderr)


class Trainer:
    """Owns one run: data, parameters, optimizer, state, metrics writer."""

    def __init__(self, cfg, out_dir, resume=False, progress=True, overwrite=False):
        self.cfg, self.progress = cfg, progress
        self.paths = RunPaths(Path(out_dir))
        self.dtype = np.dtype(cfg.train.dtype)
        saved = self._find_resume_point() if resume else self._check_fresh(overwrite)
        tokenizer = tokenizer_from_dict(saved[2]["tokenizer"]) if saved else None
        try:
            corpus = load_corpus(cfg.data, tokenizer)
        except DataError as e:
            if saved:
                what = str(e).split(": the model")[0]
                raise DataError(f"--resume: the corpus does not fit the run's vocabulary ({what}): "
                                "resume on the run's own corpus, or start a new run") from None
            raise
        t = cfg.train
        check_trainable(len(corpus.train), t.batch_size, t.bptt)
        self.tokenizer = corpus.tokenizer
        self.spec = spec_from_config(cfg, self.tokenizer.vocab_size)
        self.streams = batchify(corpus.train, t.batch_size)  # (B, N)
        n_valid = len(corpus.valid)
        self.valid = batchify(corpus.valid, max(1, min(t.batch_size, (n_valid - 1) // 2))) \
            if n_valid >= 3 else None
        rng = np.random.default_rng(t.seed)
        self.params = model.init_params(self.spec, rng, self.dtype, cfg.model.init_scale,
                                        cfg.model.recurrent_init, cfg.model.recurrent_gain,
                                        cfg.model.forget_bias)
        o = cfg.optim
        self.opt = make_optimizer(o.name, self.params, o.momentum, o.beta1, o.beta2, o.eps,
                                  o.weight_decay)
        self.ts = fresh_state(self.spec, t.batch_size, self.dtype, rng)
        ensure_dir(self.paths.checkpoints)
        if saved:
            restore(self.params, self.opt, self.ts, saved[1], saved[2], saved[0])
            dropped = truncate_metrics(self.paths.metrics, self.ts.step)
            _say(f"resuming from {saved[0]} at step {self.ts.step}"
                 + (f"; dropped {dropped} metrics record(s) written after it" if dropped else ""))
        try:
            save_config(cfg, self.paths.config)
        except OSError as e:
            raise RnnlmError(f"cannot write {self.paths.config}: {e.strerror or e}; free disk "
                             "space or fix the run directory's permissions") from None

    # ------------------------------------------------------------ checkpoints
    def _find_resume_point(self):
        found = find_checkpoint(self.paths)
        if found is None:
            raise CheckpointError(f"--resume: '{self.paths.root}' has no checkpoint to resume "
                                  "from; drop --resume to start a new run")
        check_compatible(self.cfg, found[2], found[0])
        return found

    def _check_fresh(self, overwrite):
        """A new run must not mix its files with an old run's: refuse, or clear with --overwrite."""
        old = [p for p in (self.paths.metrics, self.paths.last, self.paths.best) if p.is_file()]
        old += self.paths.step_checkpoints()
        if old and not overwrite:
            raise RnnlmError(f"'{self.paths.root}' already holds a run ({old[0].name}): continue "
                             "it with --resume, start over there with --overwrite, or choose "
                             "another --out")
        for p in old:
            try:
                p.unlink()
            except OSError as e:
                raise RnnlmError(f"cannot remove {p}: {e.strerror}; fix the run directory's "
                                 "permissions or choose another --out") from None
        return None

    def save(self, best=False):
        """Checkpoint the whole training state (last, step-N, and best when asked)."""
        arrays, meta = training_checkpoint(self.params, self.opt, self.ts, self.cfg, self.tokenizer)
        save_training(self.paths, arrays, meta, self.cfg.train.keep_checkpoints, best)

    # ------------------------------------------------------------ one step
    def next_window(self):
        ts = self.ts
        if ts.epoch == 0 or ts.window >= num_windows(self.streams, self.cfg.train.bptt):
            # a new pass (the first one too) begins at window 0 from a zero state
            ts.epoch, ts.window = ts.epoch + 1, 0
            ts.state = model.zero_state(self.spec, self.streams.shape[0], self.dtype)
        x, y = window(self.streams, ts.window, self.cfg.train.bptt)
        ts.window += 1
        return x, y

    def step(self):
        """One optimizer step. Returns a dict of what happened (for logging)."""
        cfg, ts = self.cfg, self.ts
        x, y = self.next_window()
        state_in = ts.state
        lr = ts.lr_scale * learning_rate(ts.step, cfg.optim.lr, cfg.optim.schedule,
                                         cfg.optim.warmup_steps, cfg.train.max_steps,
                                         cfg.optim.min_lr)
        with np.errstate(over="ignore", invalid="ignore"):  # checked just below, reported once
            loss, grads, new_state, norms = model.loss_and_grads(
                self.params, self.spec, x, y, ts.state, ts.rng, train=True)
            norm = global_norm(grads)  # before clipping: clipping would turn inf into NaN
        if not (math.isfinite(loss) and math.isfinite(norm)):
            return {"nonfinite": True, "loss": loss, "grad_norm": norm, "lr": lr, "tokens": x.size}
        probe = None
        if cfg.train.probe_every and (ts.step + 1) % cfg.train.probe_every == 0:
            # Probe the parameters this step's gradient was taken at, on the same window.
            probe = probe_record(self.params, self.spec, x, y, state_in, ts.step + 1, grads)
        _, norm_after, clipped = clip_by_norm(grads, cfg.optim.clip_norm, norm)
        value_clipped = clip_by_value(grads, cfg.optim.clip_value)
        self.opt.step(self.params, grads, lr)
        ts.state = new_state
        ts.step += 1
        ts.bad_streak = 0
        ts.tokens += x.size
        ts.clip_count += bool(clipped or value_clipped)
        return {"nonfinite": False, "loss": loss, "grad_norm": norm, "lr": lr, "tokens": x.size,
                "grad_norm_clipped": norm_after if not value_clipped else global_norm(grads),
                "clipped": bool(clipped or value_clipped), "step_norms": norms, "probe": probe}

    # ------------------------------------------------------------ the loop
    def run(self, stop=None):
        """Train to max_steps. `stop`: a GracefulStop whose flag ends the run after a checkpoint."""
        cfg, ts, t = self.cfg, self.ts, self.cfg.train
        writer = MetricsWriter(self.paths.metrics)
        bar = tqdm(total=t.max_steps, initial=ts.step, unit="step", file=sys.stderr,
                   disable=not self.progress, dynamic_ncols=True)
        acc = Interval(ts)
        last_valid = None
        try:
            while ts.step < t.max_steps:
                out = self.step()
                saved = False
                if out["nonfinite"]:
                    saved = self.on_nonfinite(out, writer)
                else:
                    acc.add(out)
                    if out["probe"] is not None:
                        writer.write(out["probe"])
                    bar.update(1)
                    if ts.step % t.log_every == 0 or ts.step == t.max_steps:
                        record = acc.record(out)
                        writer.write(record)
                        bar.set_postfix(loss=f"{record['loss']:.3f}",
                                        tok_s=f"{record['tokens_per_s']:.0f}", refresh=False)
                    if (t.eval_every and ts.step % t.eval_every == 0) or ts.step == t.max_steps:
                        last_valid, saved = self.checkpoint(writer), True
                        acc.start = time.perf_counter()  # evaluation time is not training speed
                if stop is not None and stop.requested and ts.step < t.max_steps:
                    if not saved:
                        self.save()
                    raise Stopped(f"stopped by {stop.name} after step {ts.step}; checkpoint "
                                  f"written to {self.paths.last}: continue with --resume",
                                  stop.requested)
        finally:
            bar.close()
            writer.close()
        return {"steps": ts.step, "tokens": ts.tokens, "valid_loss": last_valid,
                "best_valid_loss": ts.best_valid if math.isfinite(ts.best_valid) else None,
                "clip_rate": ts.clip_count / max(ts.step, 1), "nonfinite_events": ts.nonfinite,
                "run_dir": str(self.paths.root)}

    def evaluate(self):
        if self.valid is None:
            return None
        loss, _ = evaluate_streams(self.params, self.spec, self.valid, self.cfg.train.bptt)
        return loss

    def checkpoint(self, writer):
        """Evaluate on the validation split; write last, and best when it improved.

        The eval record goes to metrics.jsonl before the checkpoint: a kill between the two
        leaves a record after the newest checkpoint, which a resume drops and writes again."""
        ts = self.ts
        valid = self.evaluate()
        improved = valid is not None and math.isfinite(valid) and valid < ts.best_valid
        if improved:
            ts.best_valid = valid
        record = {"kind": "eval", "step": ts.step, "tokens": ts.tokens}
        if valid is not None:
            s = summary(valid)
            record.update(valid_loss=valid, valid_bits_per_token=s["bits_per_token"],
                          valid_perplexity=s["perplexity"], best=improved)
            _say(f"step {ts.step}: valid loss {valid:.4f} nats/token, "
                 f"perplexity {record['valid_perplexity']:.2f}" + (" (best)" if improved else ""))
        writer.write(record)
        self.save(best=improved or valid is None)
        return valid

    def on_nonfinite(self, out, writer):
        """NaN or inf in the loss or the gradients: skip the step, roll back, or stop.

        Returns whether a checkpoint was written (a rollback writes one, with the lower lr)."""
        ts, policy = self.ts, self.cfg.train.on_nonfinite
        ts.nonfinite += 1
        ts.bad_streak += 1
        failed = ts.step + 1
        record = {"kind": "event", "event": "nonfinite", "step": failed, "policy": policy,
                  "loss": out["loss"], "grad_norm": out["grad_norm"], "lr": out["lr"]}
        _say(f"rnnlm: warning: step {failed}: non-finite loss or gradient (loss {out['loss']}, "
             f"norm {out['grad_norm']}); train.on_nonfinite={policy}")
        if policy == "stop":
            writer.write(record)
            raise RnnlmError(f"loss or gradient became NaN/inf at step {failed}; stopped "
                             "(train.on_nonfinite=stop): lower optim.lr or set optim.clip_norm")
        if ts.bad_streak > MAX_BAD_STREAK:
            writer.write(record)
            raise RnnlmError(f"{ts.bad_streak} non-finite steps in a row at step {failed}: the "
                             "run diverges; lower optim.lr or set optim.clip_norm")
        if policy == "rollback":
            found = find_checkpoint(self.paths)
            if found is None:
                writer.write(record)
                raise RnnlmError(f"non-finite values at step {failed} and no checkpoint to roll "
                                 "back to: lower optim.lr or set optim.clip_norm")
            scale = ts.lr_scale * self.cfg.train.rollback_lr_factor
            nonfinite, streak = ts.nonfinite, ts.bad_streak
            restore(self.params, self.opt, ts, *found[1:], found[0])
            ts.lr_scale, ts.nonfinite, ts.bad_streak = scale, nonfinite, streak
            writer.truncate(ts.step)  # the steps after the checkpoint are trained again
            record.update(step=ts.step, failed_step=failed, rolled_back_to=ts.step, lr_scale=scale)
            _say(f"rnnlm: rolled back to step {ts.step} ({found[0].name}); learning rate now "
                 f"x{scale:g}")
            writer.write(record)
            self.save()  # the lower lr survives a kill
            return True
        writer.write(record)
        return False


def train(cfg, out_dir, resume=False, progress=True, overwrite=False):
    """Train a model as the config says, in out_dir; returns a summary dict.

    Holds the run directory's lock throughout; SIGINT/SIGTERM stop it after a checkpoint."""
    paths = RunPaths(Path(out_dir))
    ensure_dir(paths.root)
    stop = GracefulStop()
    try:
        with RunLock(paths.lock):
            trainer = Trainer(cfg, paths.root, resume, progress, overwrite)
            with stop:
                return trainer.run(stop)
    finally:
        stop.release_held()  # the lock is gone: a Ctrl-C held back during cleanup lands now
