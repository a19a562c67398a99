"""What changes from step to step (TrainState), and the sums between two log lines (Interval).

Everything here goes into the checkpoint (run/checkpoints.py), so a resumed run continues bit
for bit.
"""

import math
import time
from dataclasses import dataclass, field

import numpy as np

from rnnlm.model import zero_state


def new_interval():
    return {"losses": [], "norms": [], "tokens": 0, "penalties": []}


@dataclass
class TrainState:
    """What changes from step to step, besides parameters and optimizer moments."""

    rng: np.random.Generator  # dropout masks
    state: tuple  # carried hidden state, one tuple per layer
    step: int = 0  # optimizer steps done
    epoch: int = 0  # passes over the training streams begun
    window: int = 0  # next window of the current pass (train.bptt_mode fixed)
    position: int = 0  # next new column of the current pass (k1k2, variable: train/bptt.py)
    tokens: int = 0  # training tokens seen
    clip_count: int = 0  # steps on which clipping fired
    best_valid: float = math.inf
    stalls: int = 0  # validations in a row without a new best (train.early_stop)
    lr_scale: float = 1.0  # lowered by each non-finite rollback
    nonfinite: int = 0  # non-finite events so far
    bad_streak: int = 0  # non-finite events since the last good step
    seconds: float = 0.0  # wall-clock time spent in the training loop (evaluation included), all runs
    cpu_seconds: float = 0.0  # this process's CPU time in the loop, all runs (root's under MPI)
    log: dict = field(default_factory=new_interval)  # sums between two log lines


def fresh_state(spec, batch_size, dtype, rng):
    return TrainState(rng, zero_state(spec, batch_size, dtype))


class Clock:
    """Adds the loop's wall-clock and CPU time to ts.seconds and ts.cpu_seconds, so that they
    count every run of a resumed training and the checkpoint carries them."""

    def __init__(self, ts):
        self.ts = ts
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def tick(self):
        wall, cpu = time.perf_counter(), time.process_time()
        self.ts.seconds += wall - self.wall
        self.ts.cpu_seconds += cpu - self.cpu
        self.wall, self.cpu = wall, cpu

    def stamp(self, record):
        """Add the time so far to a metrics record (the x axis of quality per minute)."""
        self.tick()
        record.update(seconds=round(self.ts.seconds, 3), cpu_seconds=round(self.ts.cpu_seconds, 3))
        return record


class Interval:
    """Sums between two log lines, kept in ts.log so that a checkpoint carries them."""

    def __init__(self, ts):
        self.ts = ts
        self.start = time.perf_counter()

    def add(self, out):
        log = self.ts.log
        log["losses"].append(float(out.loss))
        log["norms"].append(float(out.grad_norm))
        log.setdefault("penalties", []).append(float(out.penalty))
        log["tokens"] += out.tokens

    def record(self, out):
        """The "train" record of metrics.jsonl for the interval ending with step result `out`."""
        ts, log = self.ts, self.ts.log
        loss = float(np.mean(log["losses"]))
        elapsed = max(time.perf_counter() - self.start, 1e-9)
        record = {"kind": "train", "step": ts.step, "epoch": ts.epoch, "tokens": ts.tokens,
                  "loss": loss, "bits_per_token": loss / math.log(2), "lr": out.lr,
                  "grad_norm": out.grad_norm, "grad_norm_clipped": out.grad_norm_clipped,
                  "clipped": out.clipped, "clip_count": ts.clip_count,
                  "clip_rate": ts.clip_count / ts.step, "grad_norms": log["norms"],
                  "tokens_per_s": log["tokens"] / elapsed,
                  "step_norms": np.asarray(out.step_norms).tolist()}
        if any(log.get("penalties") or ()):  # AR/TAR on: `loss` is the cross-entropy alone
            record["penalty"] = float(np.mean(log["penalties"]))
        ts.log = new_interval()
        self.start = time.perf_counter()
        return record
