"""A run directory and the paths of its files.

    RUN_DIR/
      config.yaml          the resolved config (every key, defaults filled in)
      metrics.jsonl        one JSON object a line: {"kind": "train" | "eval" | "probe" | "event", ...}
      checkpoints/step-00000200.npz   the last train.keep_checkpoints checkpoints, by step
      checkpoints/last.npz the newest checkpoint (everything needed to resume)
      checkpoints/best.npz the checkpoint with the lowest validation loss so far
      train.lock           the pid of the trainer writing this directory, while it runs

"""

import os
from dataclasses import dataclass
from pathlib import Path

from rnnlm.errors import RnnlmError


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


def check_run_dir(run_dir):
    """RnnlmError unless `run_dir` is a directory that a `rnnlm train` run wrote."""
    p = Path(run_dir)
    if p.is_file():
        raise RnnlmError(f"'{run_dir}' is a file, not a run directory: pass the --out directory "
                         "of a `rnnlm train` run")
    if not p.is_dir():
        raise RnnlmError(f"run directory '{run_dir}' does not exist: pass the --out directory of "
                         "a `rnnlm train` run")
    paths = RunPaths(p)
    if not (paths.config.is_file() or paths.metrics.is_file() or paths.checkpoints.is_dir()):
        raise RnnlmError(f"'{run_dir}' is not a run directory (no config.yaml, metrics.jsonl or "
                         "checkpoints/ in it): pass the --out directory of a `rnnlm train` run")


def ensure_dir(path):
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as e:
        raise RnnlmError(f"cannot create run directory '{path}': {e.strerror}; choose another "
                         "--out") from None
