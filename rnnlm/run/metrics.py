"""metrics.jsonl: one JSON object a line, {"kind": "train" | "eval" | "probe" | "event", ...}.

metrics.jsonl describes one trajectory: on --resume (and on a rollback) the records with a step
after the checkpoint's are dropped, since the resumed run writes them again.
"""

import json
import math
from pathlib import Path

from rnnlm.errors import RnnlmError

from .atomic import write_atomic
from .paths import RunPaths


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
        write_atomic(path, "".join(kept).encode("utf-8"))
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
