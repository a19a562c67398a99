"""A run directory: its files, the metrics log, and loading a trained model back.

    RUN_DIR/
      config.yaml          the resolved config (every key, defaults filled in)
      metrics.jsonl        one JSON object a line: {"kind": "train" | "eval" | "probe" | "event", ...}
      checkpoints/step-00000200.npz   the last train.keep_checkpoints checkpoints, by step
      checkpoints/last.npz the newest checkpoint (everything needed to resume)
      checkpoints/best.npz the checkpoint with the lowest validation loss so far
      train.lock           the pid of the trainer writing this directory, while it runs

metrics.jsonl describes one trajectory: on --resume (and on a rollback) the records with a step
after the checkpoint's are dropped, since the resumed run writes them again.
"""

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .checkpoint import atomic_write_bytes, load_checkpoint, param_arrays
from .config import Config, config_from_dict
from .errors import CheckpointError, RnnlmError
from .model import ModelSpec, param_shapes
from .tokenizers import tokenizer_from_dict


@dataclass(frozen=True)
class RunPaths:
    root: Path

    @property
    def config(self):
        return self.root / "config.yaml"

    @property
    def metrics(self):
        return self.root / "metrics.jsonl"

    @property
    def checkpoints(self):
        return self.root / "checkpoints"

    @property
    def last(self):
        return self.checkpoints / "last.npz"

    @property
    def best(self):
        return self.checkpoints / "best.npz"

    @property
    def lock(self):
        return self.root / "train.lock"

    def step_checkpoint(self, step):
        return self.checkpoints / f"step-{step:08d}.npz"

    def step_checkpoints(self):
        """The step-*.npz checkpoints, newest first."""
        if not self.checkpoints.is_dir():
            return []
        found = [p for p in self.checkpoints.glob("step-*.npz") if p.stem[5:].isdigit()]
        return sorted(found, key=lambda p: int(p.stem[5:]), reverse=True)


class MetricsWriter:
    """Appends one JSON object a line to metrics.jsonl, flushed at once so a crash loses nothing."""

    def __init__(self, path):
        self.path = Path(path)
        try:
            self.file = open(self.path, "a", encoding="utf-8")
        except OSError as e:
            raise RnnlmError(f"cannot write {self.path}: {e.strerror}; check the run directory's "
                             "permissions") from None

    def write(self, record):
        try:
            self.file.write(json.dumps(_finite(record), allow_nan=False) + "\n")
            self.file.flush()
        except OSError as e:
            raise RnnlmError(f"cannot write {self.path}: {e.strerror or e}; free disk space, "
                             "then continue with --resume") from None

    def truncate(self, step):
        """Drop the records after `step` (see truncate_metrics) and go on appending."""
        self.file.close()
        truncate_metrics(self.path, step)
        self.file = open(self.path, "a", encoding="utf-8")

    def close(self):
        self.file.close()


def _finite(obj):
    """JSON has no NaN/inf: write them as the strings "nan", "inf", "-inf"."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def truncate_metrics(path, step):
    """Drop the records of metrics.jsonl with a step after `step` (and any torn line), atomically.

    Used on --resume and on rollback: the steps after the checkpoint are trained again and their
    records written again, so the file never holds two versions of one step."""
    path = Path(path)
    if not path.is_file():
        return 0
    kept, dropped = [], 0
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            try:
                record = json.loads(line)
                keep = isinstance(record, dict) and not (
                    isinstance(record.get("step"), int) and record["step"] > step)
            except json.JSONDecodeError:
                keep = False
            if keep:
                kept.append(line if line.endswith("\n") else line + "\n")
            else:
                dropped += 1
    if dropped:
        atomic_write_bytes(path, "".join(kept).encode("utf-8"))
    return dropped


def read_metrics(run_dir):
    """All records of a run's metrics.jsonl (a torn last line from a crash is ignored)."""
    path = RunPaths(Path(run_dir)).metrics
    if not path.is_file():
        raise RnnlmError(f"'{run_dir}' has no metrics.jsonl: is it a run directory made by "
                         "`rnnlm train`?")
    records = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return records


def spec_from_config(cfg: Config, vocab_size: int) -> ModelSpec:
    m = cfg.model
    return ModelSpec(m.cell, vocab_size, m.embed_size, m.hidden_size, m.layers, m.dropout)


@dataclass
class LoadedRun:
    config: Config
    tokenizer: object
    spec: ModelSpec
    params: dict
    meta: dict


def check_run_dir(run_dir):
    if not Path(run_dir).is_dir():
        raise RnnlmError(f"run directory '{run_dir}' does not exist: pass the --out directory of "
                         "a `rnnlm train` run")


def load_run(run_dir, which="best"):
    """The config, tokenizer and parameters of a run's checkpoint ('best', else 'last')."""
    check_run_dir(run_dir)
    paths = RunPaths(Path(run_dir))
    path = paths.best if which == "best" and paths.best.is_file() else paths.last
    if not path.is_file():
        raise CheckpointError(f"'{run_dir}' has no checkpoint yet: train longer than "
                              "train.eval_every steps, or wait for the first checkpoint")
    arrays, meta = load_checkpoint(path)
    cfg = config_from_dict(meta.get("config"))
    tokenizer = tokenizer_from_dict(meta.get("tokenizer"))
    spec = spec_from_config(cfg, tokenizer.vocab_size)
    params = param_arrays(arrays)
    dtype = np.dtype(cfg.train.dtype)
    for name, shape in param_shapes(spec).items():
        a = params.get(name)
        if a is None or a.shape != shape or a.dtype != dtype:
            raise CheckpointError(f"checkpoint '{path}' does not match its config: parameter "
                                  f"'{name}' should be {shape} {dtype}; the file is corrupt")
    return LoadedRun(cfg, tokenizer, spec, params, meta)


def ensure_dir(path):
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as e:
        raise RnnlmError(f"cannot create run directory '{path}': {e.strerror}; choose another "
                         "--out") from None
