"""Setting a run up: a fresh start or the newest valid checkpoint, the data, the parameters, the
optimizer and schedule, and the resolved config written to the run directory."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnlm.config import build, save_config
from rnnlm.console import say
from rnnlm.data.batching import batchify, check_trainable
from rnnlm.data.corpus import load_corpus
from rnnlm.data.tokenizers import tokenizer_from_dict
from rnnlm.errors import CheckpointError, DataError, RnnlmError, UnknownSymbolsError
from rnnlm.model import init_params
from rnnlm.run.checkpoints import check_compatible, find_checkpoint, restore
from rnnlm.run.metrics import truncate_metrics
from rnnlm.run.paths import RunPaths, ensure_dir

from .state import fresh_state


@dataclass
class Run:
    """Everything a training run is made of; the loop and its helpers read and update it."""

    cfg: object  # the validated Config
    paths: RunPaths
    tokenizer: object
    spec: object  # ModelSpec
    streams: np.ndarray  # (B, N) training streams
    valid: np.ndarray | None  # (B_valid, N_valid) validation streams, None when too short
    params: dict
    opt: object
    schedule: object  # step -> lr
    ts: object  # TrainState
    dtype: np.dtype


def setup(cfg, out_dir, resume=False, overwrite=False) -> Run:
    paths = RunPaths(Path(out_dir))
    dtype = build.dtype(cfg)
    saved = _resume_point(cfg, paths) if resume else _check_fresh(paths, overwrite)
    tokenizer = tokenizer_from_dict(saved[2]["tokenizer"]) if saved else None
    try:
        corpus = load_corpus(cfg.data, tokenizer)
    except UnknownSymbolsError as e:
        if not saved:
            raise
        raise DataError(f"--resume: the corpus does not fit the run's vocabulary ({e.count} "
                        f"character(s) not in the vocabulary, e.g. {', '.join(map(repr, e.symbols))}"
                        "): resume on the run's own corpus, or start a new run") from None
    t = cfg.train
    check_trainable(len(corpus.train), t.batch_size, t.bptt)
    spec = build.model_spec(cfg, corpus.tokenizer.vocab_size)
    n_valid = len(corpus.valid)
    valid = batchify(corpus.valid, max(1, min(t.batch_size, (n_valid - 1) // 2))) \
        if n_valid >= 3 else None
    rng = np.random.default_rng(t.seed)
    params = init_params(spec, rng, dtype, build.init_spec(cfg))
    run = Run(cfg, paths, corpus.tokenizer, spec, batchify(corpus.train, t.batch_size), valid,
              params, build.optimizer(cfg, params), build.schedule(cfg),
              fresh_state(spec, t.batch_size, dtype, rng), dtype)
    ensure_dir(paths.checkpoints)
    if saved:
        restore(run.params, run.opt, run.ts, saved[1], saved[2], saved[0], run.schedule)
        dropped = truncate_metrics(paths.metrics, run.ts.step)
        say(f"resuming from {saved[0]} at step {run.ts.step}"
            + (f"; dropped {dropped} metrics record(s) written after it" if dropped else ""))
    try:
        save_config(cfg, paths.config)
    except OSError as e:
        raise RnnlmError(f"cannot write {paths.config}: {e.strerror or e}; free disk "
                         "space or fix the run directory's permissions") from None
    return run


def _resume_point(cfg, paths):
    found = find_checkpoint(paths)
    if found is None:
        raise CheckpointError(f"--resume: '{paths.root}' has no checkpoint to resume "
                              "from; drop --resume to start a new run")
    check_compatible(cfg, found[2], found[0])
    return found


def _check_fresh(paths, overwrite):
    """A new run must not mix its files with an old run's: refuse, or clear with --overwrite."""
    old = [p for p in (paths.metrics, paths.last, paths.best) if p.is_file()]
    old += paths.step_checkpoints()
    if old and not overwrite:
        raise RnnlmError(f"'{paths.root}' already holds a run ({old[0].name}): continue "
                         "it with --resume, start over there with --overwrite, or choose "
                         "another --out")
    for p in old:
        try:
            p.unlink()
        except OSError as e:
            raise RnnlmError(f"cannot remove {p}: {e.strerror}; fix the run directory's "
                             "permissions or choose another --out") from None
    return None
