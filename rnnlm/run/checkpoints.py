"""Training checkpoints: save, rotate, find the newest valid one, restore.

A training checkpoint holds everything a resumed run needs to continue bit for bit:

    <name>, optim/<name>            parameters (embed.W, ...) and optimizer state (Adam m, v, t)
    state/<l>.<i>                   the hidden state carried into the next window
    meta: step, epoch, window       where the run is in the training streams
          rng                       the dropout generator's bit-generator state
          lr_scale, nonfinite, ...  the non-finite guard's state (rollbacks lower lr_scale)
          best_valid, interval      the best validation loss; the sums of the log interval so far
          config, tokenizer         what the run was started with

Each checkpoint goes to checkpoints/last.npz and checkpoints/step-<step>.npz (the newest
train.keep_checkpoints of those are kept), and to best.npz when validation improved.
"""

import math

from rnnlm.backend import to_host
from rnnlm.config.load import config_to_dict
from rnnlm.config.schema import Config
from rnnlm.console import warn
from rnnlm.errors import CheckpointError

from .checkpoint import atomic_write_bytes, checkpoint_bytes, join_arrays, load_checkpoint, split_arrays

# Keys that must be the same to resume: they fix the shapes, the optimizer state and the data
# position. Others (max_steps, lr, eval_every, ...) may change between runs.
RESUME_KEYS = ("model.*", "data.tokenizer", "data.valid_fraction", "data.test_fraction",
               "train.batch_size", "train.bptt", "train.dtype", "optim.name", "optim.momentum")
_COUNTERS = ("step", "epoch", "window", "tokens", "clip_count", "nonfinite", "bad_streak")


def training_checkpoint(params, opt, ts, cfg, tokenizer):
    """(arrays, meta) of the whole training state; ts is the trainer's TrainState."""
    arrays = dict(params)  # parameters under their own names: embed.W, rnn.0.W_x, ...
    arrays.update(join_arrays("optim", opt.state_dict()))
    for l, layer in enumerate(ts.state):
        arrays.update({f"state/{l}.{i}": s for i, s in enumerate(layer)})
    arrays = {k: to_host(a) for k, a in arrays.items()}  # to the host only to be written
    meta = {key: getattr(ts, key) for key in _COUNTERS}
    meta.update(best_valid=ts.best_valid if math.isfinite(ts.best_valid) else None,
                lr_scale=ts.lr_scale, rng=ts.rng.bit_generator.state, interval=ts.log,
                config=config_to_dict(cfg), tokenizer=tokenizer.to_dict())
    return arrays, meta


def save_training(paths, arrays, meta, keep, best=False):
    """Write last.npz and step-<step>.npz (and best.npz); keep the newest `keep` step files."""
    data = checkpoint_bytes(arrays, meta)
    atomic_write_bytes(paths.last, data)  # last first: a kill between the two leaves it newest
    atomic_write_bytes(paths.step_checkpoint(meta["step"]), data)
    if best:
        atomic_write_bytes(paths.best, data)
    for old in paths.step_checkpoints()[keep:]:
        try:
            old.unlink()
        except OSError:
            pass


def find_checkpoint(paths):
    """The newest checkpoint that loads and verifies: last.npz, else step files newest first.

    Returns (path, arrays, meta), or None when there is no checkpoint file at all. Each bad file
    is reported on stderr; CheckpointError when files exist but none is valid."""
    candidates = [p for p in [paths.last, *paths.step_checkpoints()] if p.is_file()]
    if not candidates:
        return None
    problems = []
    for path in candidates:
        try:
            arrays, meta = load_checkpoint(path)
        except CheckpointError as e:
            problems.append(str(e))
            warn(f"skipping {path}: {e}")
            continue
        if problems:
            warn(f"using the previous checkpoint {path} (step {meta.get('step')})")
        return path, arrays, meta
    raise CheckpointError(f"no valid checkpoint in {paths.checkpoints} ({len(problems)} file(s), "
                          "all corrupt; see the warnings above): nothing to resume from; start a "
                          "new run with --overwrite or another --out")


def check_compatible(cfg, meta, path):
    """CheckpointError naming the first config key that makes the checkpoint unusable."""
    saved, now = meta.get("config"), config_to_dict(cfg)
    if not isinstance(saved, dict):
        raise CheckpointError(f"checkpoint '{path}' has no config: it was not written by `rnnlm train`")
    defaults = config_to_dict(Config())  # a key newer than the run: the run had its default
    for key in RESUME_KEYS:
        sec, _, name = key.partition(".")
        names = now[sec] if name == "*" else [name]
        for n in names:
            old = (saved[sec].get(n, defaults[sec][n]) if isinstance(saved.get(sec), dict)
                   else None)
            if old != now[sec][n]:
                raise CheckpointError(
                    f"--resume: config key '{sec}.{n}' is {now[sec][n]!r} but the run was trained "
                    f"with {old!r}: resume with the run's own config.yaml (keys such as "
                    "train.max_steps or optim.lr may change)")


def restore(params, opt, ts, arrays, meta, path):
    """Load a checkpoint's training state into params, opt and ts, in place."""
    try:
        for name, p in params.items():
            a = arrays.get(name)
            if a is None or a.shape != p.shape or a.dtype != p.dtype:
                raise CheckpointError(
                    f"checkpoint '{path}' parameter '{name}' is missing or has shape "
                    f"{None if a is None else a.shape} instead of {p.shape}: it belongs to "
                    "another architecture or vocabulary; use the run's own config and corpus")
            p[...] = a
        opt_state = split_arrays(arrays, "optim")
        for k, a in opt.state_dict().items():
            if k not in opt_state or opt_state[k].shape != a.shape:
                raise CheckpointError(f"checkpoint '{path}' lacks optimizer state '{k}': it was "
                                      "trained with another optimizer; resume with its config")
        opt.load_state_dict(opt_state)
        state = []
        for l, layer in enumerate(ts.state):
            tensors = []
            for i, s in enumerate(layer):
                a = arrays[f"state/{l}.{i}"]
                if a.shape != s.shape:
                    raise KeyError(f"state/{l}.{i}")
                tensors.append(a.astype(s.dtype))
            state.append(tuple(tensors))
        for key in _COUNTERS:
            value = meta.get(key, 0)
            if not isinstance(value, int) or value < 0:
                raise ValueError(key)
            setattr(ts, key, value)
        best = meta["best_valid"]
        ts.best_valid = math.inf if best is None else float(best)
        ts.lr_scale = float(meta["lr_scale"])
        interval = meta.get("interval") or {"losses": [], "norms": [], "tokens": 0}
        ts.log = {"losses": [float(v) for v in interval["losses"]],
                  "norms": [float(v) for v in interval["norms"]], "tokens": int(interval["tokens"])}
        ts.rng.bit_generator.state = meta["rng"]
        ts.state = tuple(state)
    except CheckpointError:
        raise
    except (KeyError, ValueError, TypeError, AttributeError) as e:
        raise CheckpointError(f"checkpoint '{path}' lacks or garbles training state ({e}); "
                              "it is corrupt or from an older rnnlm: use another one") from None
