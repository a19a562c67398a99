"""Setting a run up: a fresh start or the newest valid checkpoint, the data, the parameters, the
optimizer and schedule, and the resolved config written to the run directory."""

from dataclasses import dataclass, field
import time
from pathlib import Path

import numpy as np

from rnnlm import backend
from rnnlm.config import build, save_config
from rnnlm.console import say, warn
from rnnlm.data.batching import batchify, check_trainable
from rnnlm.data.corpus import absolute_paths, load_corpus
from rnnlm.data.tokenizers import tokenizer_from_dict
from rnnlm.errors import CheckpointError, DataError, RnnlmError, UnknownSymbolsError
from rnnlm.infer.evaluate import protocol_words, validation_streams
from rnnlm.model import init_params
from rnnlm.run.checkpoints import check_compatible, find_checkpoint, restore
from rnnlm.run.metrics import truncate_metrics
from rnnlm.run.paths import RunPaths, ensure_dir

from .distributed import world
from .state import fresh_state


@dataclass
class Run:
    """Everything a training run is made of; the loop and its helpers read and update it."""

    cfg: object  # the validated Config
    paths: RunPaths
    tokenizer: object
    spec: object  # ModelSpec
    streams: np.ndarray  # (B, N) training streams (this rank's B/K of them under MPI)
    valid: np.ndarray | None  # (B_valid, N_valid) validation streams, None when too short
    params: dict
    opt: object
    schedule: object  # step -> lr
    ts: object  # TrainState
    dtype: np.dtype
    comm: object  # distributed.Single, or distributed.Mpi under mpiexec: the ranks' hooks
    xp: object  # the array module (train.backend); the data stays numpy on the host
    data_files: dict = field(default_factory=dict)  # role -> fingerprint of the file trained on
    valid_size: dict | None = None  # tokens, chars, bytes of the validation split's text


def setup(cfg, out_dir, resume=False, overwrite=False) -> Run:
    cfg = absolute_paths(cfg)  # the saved config records where the data is, wherever eval runs
    paths = RunPaths(Path(out_dir))
    comm, xp = world(), backend.get(cfg.train.backend)
    dtype = build.dtype(cfg)
    if resume:
        saved = _resume_point(cfg, paths)
    else:
        saved = _check_fresh(paths, overwrite) if comm.is_root else None
    tokenizer = tokenizer_from_dict(saved[2]["tokenizer"]) if saved else None
    started = time.perf_counter()
    try:
        corpus = load_corpus(cfg.data, tokenizer)
    except UnknownSymbolsError as e:
        if not saved:
            raise
        raise DataError(f"--resume: the corpus does not fit the run's vocabulary ({e.count} "
                        f"character(s) not in the vocabulary, e.g. {', '.join(map(repr, e.symbols))}"
                        "): resume on the run's own corpus, or start a new run") from None
    comm.say(f"data: {len(corpus.train):,} training tokens, vocabulary {corpus.tokenizer.vocab_size:,} "
        f"({corpus.tokenizer.kind}), ready in {time.perf_counter() - started:.2f} s")
    if saved:
        _warn_if_changed(saved[2].get("data_files"), corpus.files)
    t = cfg.train
    check_trainable(len(corpus.train), t.batch_size, t.bptt)
    streams = comm.shard(batchify(corpus.train, t.batch_size))  # (B/K, N): this rank's rows
    spec = build.model_spec(cfg, corpus.tokenizer.vocab_size)
    n_valid = len(corpus.valid)
    valid = batchify(corpus.valid, validation_streams(n_valid, t.batch_size)) \
        if n_valid >= 3 and comm.is_root else None  # the root alone evaluates
    rng = np.random.default_rng(t.seed)
    params = init_params(spec, rng, dtype, build.init_spec(cfg))
    params = {k: backend.to_device(p, xp) for k, p in params.items()}  # before the optimizer's state
    ts = fresh_state(spec, streams.shape[0], dtype, rng)
    ts.state = _to_device(ts.state, xp)
    run = Run(cfg, paths, corpus.tokenizer, spec, streams, valid, params,
              build.optimizer(cfg, params), build.schedule(cfg), ts, dtype, comm, xp,
              corpus.files, corpus.sizes.get("valid"))
    if saved:
        restore_run(run, *saved)
        if run.ts.step >= t.max_steps:
            raise RnnlmError(f"--resume: '{paths.root}' is already at step {run.ts.step} and "
                             f"train.max_steps is {t.max_steps}: nothing more to train; to go "
                             f"on, resume with --set train.max_steps=N (N > {run.ts.step})")
        if t.max_minutes and run.ts.seconds >= 60 * t.max_minutes:
            raise RnnlmError(f"--resume: '{paths.root}' has trained {run.ts.seconds / 60:.1f} "
                             f"minutes and train.max_minutes is {t.max_minutes:g}: nothing more to "
                             "train; to go on, resume with --set train.max_minutes=M (M > "
                             f"{run.ts.seconds / 60:.1f}, or 0 for no limit)")
        if saved[2].get("world_size", 1) != comm.size:
            comm.say(f"rnnlm: note: the run was trained on {saved[2].get('world_size', 1)} "
                     f"process(es) and continues on {comm.size}: the same math, though not bit "
                     "for bit (the gradient sums are added in another order)")
    if comm.is_root:
        ensure_dir(paths.checkpoints)
        if saved:
            dropped = truncate_metrics(paths.metrics, run.ts.step)
            say(f"resuming from {saved[0]} at step {run.ts.step}"
                + (f"; dropped {dropped} metrics record(s) written after it" if dropped else ""))
        try:
            save_config(cfg, paths.config)
        except OSError as e:
            raise RnnlmError(f"cannot write {paths.config}: {e.strerror or e}; free disk "
                             "space or fix the run directory's permissions") from None
        if valid is not None:
            say(f"validation loss: {n_valid} tokens as {protocol_words(valid.shape[0], t.bptt)} "
                "(the same as `rnnlm eval RUN --split valid`)")
    return run


def restore_run(run, path, arrays, meta):
    """Load a checkpoint into the run, in place: parameters, optimizer, counters, and this rank's
    rows of the hidden state, on the run's array module."""
    arrays = {k: backend.to_device(a, run.xp) for k, a in run.comm.local_rows(arrays).items()}
    restore(run.params, run.opt, run.ts, arrays, meta, path, run.schedule)
    run.ts.state = _to_device(run.ts.state, run.xp)


def _to_device(state, xp):
    return tuple(tuple(backend.to_device(s, xp) for s in layer) for layer in state)


def _warn_if_changed(recorded, files):
    for role, fp in (recorded or {}).items():
        now = files.get(role)
        if isinstance(fp, dict) and now and (fp.get("path") != now["path"] or fp.get("sha256") != now["sha256"]):
            warn(f"--resume: the {role} file {now['path']} is not the one the run started on "
                 f"({fp.get('path')}, sha256 {str(fp.get('sha256'))[:12]}): training continues on it")


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
