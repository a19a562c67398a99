"""The training loop: windows, forward, loss, backward, clip, step, evaluate, log, checkpoint.

    for each step:
        x, y = next window of the B training streams     # state carried from the last window
        loss, grads, state = forward + backward (BPTT inside this window only)
        check loss and gradient norm are finite           # before clipping: clipping turns inf into NaN
        clip (global norm, then value); optimizer step
        every log_every: one "train" line in metrics.jsonl, with ‖∂L/∂h_t‖ for every t and layer
        every eval_every: validation loss, checkpoints last (and best when it improved)

Everything that changes from step to step lives in TrainState and goes into the checkpoint, so
a resumed run continues bit for bit.
"""

import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from . import model
from .checkpoint import join_arrays, load_checkpoint, save_checkpoint, split_arrays
from .config import config_to_dict, save_config
from .diagnostics import probe_record
from .data import batchify, check_trainable, load_corpus, num_windows, window
from .errors import CheckpointError, RnnlmError
from .evaluate import evaluate_streams
from .optim import clip_by_norm, clip_by_value, global_norm, learning_rate, make_optimizer
from .runs import MetricsWriter, RunPaths, ensure_dir, spec_from_config
from .tokenizers import tokenizer_from_dict


@dataclass
class TrainState:
    """What changes from step to step, besides parameters and optimizer moments."""

    rng: np.random.Generator  # dropout masks
    state: tuple  # carried hidden state, one tuple per layer
    step: int = 0  # optimizer steps done
    epoch: int = 0  # passes over the training streams begun
    window: int = 0  # next window of the current pass
    tokens: int = 0  # training tokens seen
    clip_count: int = 0  # steps on which clipping fired
    best_valid: float = math.inf
    lr_scale: float = 1.0  # lowered by each non-finite rollback
    nonfinite: int = 0  # non-finite events so far
    log: dict = field(default_factory=dict)  # accumulators between two log lines


def _say(msg):
    tqdm.write(msg, file=sys.stderr)


class Trainer:
    """Owns one run: data, parameters, optimizer, state, metrics writer."""

    def __init__(self, cfg, out_dir, resume=False, progress=True):
        self.cfg, self.progress = cfg, progress
        self.paths = RunPaths(Path(out_dir))
        self.dtype = np.dtype(cfg.train.dtype)
        saved = self._last_checkpoint() if resume else None
        tokenizer = tokenizer_from_dict(saved[1]["tokenizer"]) if saved else None
        corpus = load_corpus(cfg.data, tokenizer)
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
        self.ts = TrainState(rng, model.zero_state(self.spec, t.batch_size, self.dtype))
        if saved:
            self._restore(*saved)
        ensure_dir(self.paths.checkpoints)
        save_config(cfg, self.paths.config)

    # ------------------------------------------------------------ checkpoints
    def _last_checkpoint(self):
        if not self.paths.last.is_file():
            raise CheckpointError(f"--resume: '{self.paths.root}' has no checkpoint to resume "
                                  "from; drop --resume to start a new run")
        arrays, meta = load_checkpoint(self.paths.last)
        if meta.get("config", {}).get("model") != config_to_dict(self.cfg)["model"]:
            raise CheckpointError("--resume: the checkpoint's model section differs from the "
                                  "config's; resume with the run's own config.yaml")
        return arrays, meta

    def _restore(self, arrays, meta):
        for name, p in self.params.items():
            a = arrays.get(f"param/{name}")
            if a is None or a.shape != p.shape:
                raise CheckpointError(f"checkpoint parameter '{name}' is missing or has the "
                                      "wrong shape: it belongs to another model")
            p[...] = a
        self.opt.load_state_dict(split_arrays(arrays, "optim"))
        ts = self.ts
        ts.state = tuple(tuple(arrays[f"state/{l}.{i}"].astype(self.dtype)
                               for i in range(len(layer))) for l, layer in enumerate(ts.state))
        for key in ("step", "epoch", "window", "tokens", "clip_count", "nonfinite"):
            setattr(ts, key, int(meta[key]))
        ts.best_valid = float(meta["best_valid"])
        ts.lr_scale = float(meta["lr_scale"])
        ts.rng.bit_generator.state = meta["rng"]

    def save(self, path):
        ts = self.ts
        for name, p in self.params.items():
            if not np.all(np.isfinite(p)):
                raise RnnlmError(f"parameter '{name}' holds NaN or inf at step {ts.step}; no "
                                 "checkpoint written: lower optim.lr or set optim.clip_norm")
        arrays = join_arrays("param", self.params)
        arrays.update(join_arrays("optim", self.opt.state_dict()))
        for l, layer in enumerate(ts.state):
            arrays.update({f"state/{l}.{i}": s for i, s in enumerate(layer)})
        meta = {"step": ts.step, "epoch": ts.epoch, "window": ts.window, "tokens": ts.tokens,
                "clip_count": ts.clip_count, "nonfinite": ts.nonfinite,
                "best_valid": ts.best_valid if math.isfinite(ts.best_valid) else 1e308,
                "lr_scale": ts.lr_scale, "rng": ts.rng.bit_generator.state,
                "config": config_to_dict(self.cfg), "tokenizer": self.tokenizer.to_dict()}
        save_checkpoint(path, arrays, meta)

    # ------------------------------------------------------------ one step
    def next_window(self):
        ts = self.ts
        if ts.window >= num_windows(self.streams, self.cfg.train.bptt):  # a new pass
            ts.epoch, ts.window = ts.epoch + 1, 0
            ts.state = model.zero_state(self.spec, self.streams.shape[0], self.dtype)
        if ts.window == 0 and ts.epoch == 0:
            ts.epoch = 1
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
        loss, grads, new_state, norms = model.loss_and_grads(
            self.params, self.spec, x, y, ts.state, ts.rng, train=True)
        norm = global_norm(grads)  # before clipping: clipping would turn inf into NaN
        if not (math.isfinite(loss) and math.isfinite(norm)):
            return {"nonfinite": True, "loss": loss, "grad_norm": norm, "lr": lr, "tokens": x.size}
        probe = None
        if cfg.train.probe_every and (ts.step + 1) % cfg.train.probe_every == 0:
            # Probe the parameters this step's gradient was taken at, on the same window.
            probe = probe_record(self.params, self.spec, x, y, state_in, ts.step + 1)
        _, norm_after, clipped = clip_by_norm(grads, cfg.optim.clip_norm, norm)
        value_clipped = clip_by_value(grads, cfg.optim.clip_value)
        self.opt.step(self.params, grads, lr)
        ts.state = new_state
        ts.step += 1
        ts.tokens += x.size
        ts.clip_count += bool(clipped or value_clipped)
        return {"nonfinite": False, "loss": loss, "grad_norm": norm, "lr": lr, "tokens": x.size,
                "grad_norm_clipped": norm_after if not value_clipped else global_norm(grads),
                "clipped": bool(clipped or value_clipped), "step_norms": norms, "probe": probe}

    # ------------------------------------------------------------ the loop
    def run(self):
        cfg, ts, t = self.cfg, self.ts, self.cfg.train
        writer = MetricsWriter(self.paths.metrics)
        bar = tqdm(total=t.max_steps, initial=ts.step, unit="step", file=sys.stderr,
                   disable=not self.progress, dynamic_ncols=True)
        acc = _Interval()
        last_valid = None
        try:
            while ts.step < t.max_steps:
                out = self.step()
                if out["nonfinite"]:
                    self.on_nonfinite(out, writer)
                    continue
                acc.add(out)
                if out["probe"] is not None:
                    writer.write(out["probe"])
                bar.update(1)
                if ts.step % t.log_every == 0 or ts.step == t.max_steps:
                    record = acc.record(ts, out)
                    writer.write(record)
                    bar.set_postfix(loss=f"{record['loss']:.3f}",
                                    tok_s=f"{record['tokens_per_s']:.0f}", refresh=False)
                    acc = _Interval()
                if (t.eval_every and ts.step % t.eval_every == 0) or ts.step == t.max_steps:
                    last_valid = self.checkpoint(writer)
                    acc.start = time.perf_counter()  # evaluation time is not training speed
        finally:
            bar.close()
            writer.close()
        return {"steps": ts.step, "tokens": ts.tokens, "valid_loss": last_valid,
                "best_valid_loss": ts.best_valid if math.isfinite(ts.best_valid) else None,
                "clip_rate": ts.clip_count / max(ts.step, 1), "run_dir": str(self.paths.root)}

    def evaluate(self):
        if self.valid is None:
            return None
        loss, _ = evaluate_streams(self.params, self.spec, self.valid, self.cfg.train.bptt)
        return loss

    def checkpoint(self, writer):
        """Evaluate on the validation split; write last, and best when it improved."""
        ts = self.ts
        valid = self.evaluate()
        improved = valid is not None and valid < ts.best_valid
        if improved:
            ts.best_valid = valid
        record = {"kind": "eval", "step": ts.step, "tokens": ts.tokens}
        if valid is not None:
            record.update(valid_loss=valid, valid_bits_per_token=valid / math.log(2),
                          valid_perplexity=math.exp(min(valid, 700.0)), best=improved)
            _say(f"step {ts.step}: valid loss {valid:.4f} nats/token, "
                 f"perplexity {record['valid_perplexity']:.2f}" + (" (best)" if improved else ""))
        self.save(self.paths.last)
        if improved or (valid is None):
            self.save(self.paths.best)
        writer.write(record)
        return valid

    def on_nonfinite(self, out, writer):
        """NaN or inf in the loss or the gradients: skip the step, roll back, or stop."""
        ts, policy = self.ts, self.cfg.train.on_nonfinite
        ts.nonfinite += 1
        record = {"kind": "event", "event": "nonfinite", "step": ts.step, "policy": policy,
                  "loss": out["loss"], "grad_norm": out["grad_norm"], "lr": out["lr"]}
        _say(f"step {ts.step + 1}: non-finite loss or gradient ({out['loss']}, "
             f"norm {out['grad_norm']}); policy: {policy}")
        if policy == "stop":
            writer.write(record)
            raise RnnlmError(f"loss or gradient became NaN/inf at step {ts.step + 1}; stopped "
                             "(train.on_nonfinite=stop): lower optim.lr or set optim.clip_norm")
        if policy == "rollback":
            if not self.paths.last.is_file():
                writer.write(record)
                raise RnnlmError(f"non-finite values at step {ts.step + 1} and no checkpoint to "
                                 "roll back to: lower optim.lr or set optim.clip_norm")
            scale = ts.lr_scale * self.cfg.train.rollback_lr_factor
            nonfinite = ts.nonfinite
            self._restore(*load_checkpoint(self.paths.last))
            ts.lr_scale, ts.nonfinite = scale, nonfinite
            record.update(rolled_back_to=ts.step, lr_scale=scale)
            if nonfinite > 20:
                writer.write(record)
                raise RnnlmError("more than 20 non-finite events: the run diverges; lower "
                                 "optim.lr or set optim.clip_norm")
        writer.write(record)


class _Interval:
    """Sums between two log lines: mean loss, tokens/s, every step's pre-clip norm."""

    def __init__(self):
        self.start = time.perf_counter()
        self.losses, self.norms, self.tokens = [], [], 0

    def add(self, out):
        self.losses.append(out["loss"])
        self.norms.append(out["grad_norm"])
        self.tokens += out["tokens"]

    def record(self, ts, out):
        loss = float(np.mean(self.losses))
        elapsed = max(time.perf_counter() - self.start, 1e-9)
        return {"kind": "train", "step": ts.step, "epoch": ts.epoch, "tokens": ts.tokens,
                "loss": loss, "bits_per_token": loss / math.log(2), "lr": out["lr"],
                "grad_norm": out["grad_norm"], "grad_norm_clipped": out["grad_norm_clipped"],
                "clipped": out["clipped"], "clip_count": ts.clip_count,
                "clip_rate": ts.clip_count / ts.step, "grad_norms": self.norms,
                "tokens_per_s": self.tokens / elapsed,
                "step_norms": np.asarray(out["step_norms"]).tolist()}


def train(cfg, out_dir, resume=False, progress=True):
    """Train a model as the config says, in out_dir; returns a summary dict."""
    return Trainer(cfg, out_dir, resume, progress).run()
