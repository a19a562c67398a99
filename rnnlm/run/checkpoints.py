"""Training checkpoints: save, rotate, find the newest valid one, restore.

A training checkpoint holds everything a resumed run needs to continue bit for bit:

    <name>, optim/<name>            parameters (embed.W, ...) and optimizer state (Adam m, v, t)
    raw/<name>                      the weights training continues from, when the model under
                                    <name> is another set (NT-ASGD's average: opt.eval_params)
    sched/<name>                    the learning-rate schedule's state (plateau: scale, best, ...)
    state/<l>.<i>                   the hidden state carried into the next window
    meta: step, epoch, window       where the run is in the training streams (window: fixed
          position                  BPTT; position: the next new column, k1k2 and variable)
          rng                       the dropout generator's bit-generator state
          lr_scale, nonfinite, ...  the non-finite guard's state (rollbacks lower lr_scale)
          best_valid, interval      the best validation loss; the sums of the log interval so far
          stalls                    validations in a row without a new best (train.early_stop)
          config, tokenizer         what the run was started with
          data_files                absolute path, size, mtime and sha256 of each data file

Each checkpoint goes to checkpoints/last.npz and checkpoints/step-<step>.npz (the newest
train.keep_checkpoints of those are kept), and to best.npz when validation improved.
"""

import math

from rnnlm.backend import to_host
from rnnlm.config.load import config_to_dict
from rnnlm.config.schema import _FIELDS
from rnnlm.console import warn
from rnnlm.errors import CheckpointError

from .checkpoint import atomic_write_bytes, checkpoint_bytes, join_arrays, load_checkpoint, split_arrays

# Keys that must be the same to resume: they fix the shapes, the optimizer state and the data
# position. Others (max_steps, lr, eval_every, ...) may change between runs.
RESUME_KEYS = ("model.*", "data.tokenizer", "data.valid_fraction", "data.test_fraction",
               "train.batch_size", "train.bptt", "train.dtype", "optim.name", "optim.momentum",
               "train.bptt_mode", "train.k1", "train.k2")
_DEFAULTS = {sec: {n: f.default for n, f in fields.items()} for sec, fields in _FIELDS.items()}
_COUNTERS = ("step", "epoch", "window", "tokens", "clip_count", "nonfinite", "bad_streak",
             "stalls", "position")


def training_checkpoint(params, opt, ts, cfg, tokenizer, schedule=None, data_files=None):
    """(arrays, meta) of the whole training state; ts is the trainer's TrainState; data_files: the
    fingerprint of each data file ({role: {path, size, mtime_ns, sha256}}), which eval checks."""
    model = opt.eval_params(params)  # what eval and sample read: the average under NT-ASGD
    arrays = dict(model)  # parameters under their own names: embed.W, rnn.0.W_x, ...
    if model is not params:
        arrays.update(join_arrays("raw", params))
    arrays.update(join_arrays("optim", opt.state_dict()))
    if schedule is not None:
        arrays.update(join_arrays("sched", schedule.state_dict()))
    for l, layer in enumerate(ts.state):
        arrays.update({f"state/{l}.{i}": s for i, s in enumerate(layer)})
    arrays = {k: to_host(a) for k, a in arrays.items()}  # to the host only to be written
    meta = {key: getattr(ts, key) for key in _COUNTERS}
    meta.update(best_valid=ts.best_valid if math.isfinite(ts.best_valid) else None,
                lr_scale=ts.lr_scale, rng=ts.rng.bit_generator.state, interval=ts.log,
                seconds=ts.seconds, cpu_seconds=ts.cpu_seconds,
                config=config_to_dict(cfg), tokenizer=tokenizer.to_dict())
    if data_files:
        meta["data_files"] = data_files
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
    if _former_adam(saved) and now["optim"]["name"] != "adamw":
        raise CheckpointError(
            "--resume: the run was trained with weight decay by the former optimizer 'adam', "
            "whose decay was decoupled; that optimizer is now called 'adamw' ('adam' adds the "
            "decay to the gradient): resume with --set optim.name=adamw")
    for key in RESUME_KEYS:
        sec, _, name = key.partition(".")
        names = now[sec] if name == "*" else [name]
        for n in names:
            old = saved.get(sec, {}).get(n, _DEFAULTS[sec][n]) \
                if isinstance(saved.get(sec), dict) else None  # a key added since: its default
            if key == "optim.name" and _former_adam(saved):
                old = "adamw"
            if old != now[sec][n]:
                raise CheckpointError(
                    f"--resume: config key '{sec}.{n}' is {now[sec][n]!r} but the run was trained "
                    f"with {old!r}: resume with the run's own config.yaml (keys such as "
                    "train.max_steps or optim.lr may change)")


def _former_adam(saved):
    """Whether a saved config is from before `adamw` existed and used `adam` with weight decay:
    that optimizer decayed the weights decoupled, which is what `adamw` does now."""
    optim = saved.get("optim") if isinstance(saved, dict) else None
    return (isinstance(optim, dict) and optim.get("name") == "adam" and "nesterov" not in optim
            and isinstance(optim.get("weight_decay"), (int, float)) and optim["weight_decay"] > 0)


def restore(params, opt, ts, arrays, meta, path, schedule=None):
    """Load a checkpoint's training state into params, opt, ts (and schedule), in place.

    A schedule whose state the checkpoint lacks (optim.schedule changed on resume) starts fresh."""
    try:
        for name, p in params.items():
            a = arrays.get(f"raw/{name}", arrays.get(name))
            if a is None or a.shape != p.shape or a.dtype != p.dtype:
                raise CheckpointError(
                    f"checkpoint '{path}' parameter '{name}' is missing or has shape "
                    f"{None if a is None else a.shape} instead of {p.shape}: it belongs to "
                    "another architecture or vocabulary; use the run's own config and corpus")
            p[...] = a
        opt_state = split_arrays(arrays, "optim")
        for k, a in opt.state_dict().items():
            grows = a.shape == (0,)  # a list kept as an array (NT-ASGD's logs): any length
            if k not in opt_state or (opt_state[k].shape != a.shape and not grows):
                raise CheckpointError(f"checkpoint '{path}' lacks optimizer state '{k}': it was "
                                      "trained with another optimizer; resume with its config")
        opt.load_state_dict(opt_state)
        sched_state = split_arrays(arrays, "sched")
        if schedule is not None and sched_state:
            schedule.load_state_dict(sched_state)
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
        # time spent so far (train.max_minutes); checkpoints written before it was kept count 0
        ts.seconds = float(meta.get("seconds", 0.0))
        ts.cpu_seconds = float(meta.get("cpu_seconds", 0.0))
        interval = meta.get("interval") or {"losses": [], "norms": [], "tokens": 0}
        ts.log = {"losses": [float(v) for v in interval["losses"]],
                  "norms": [float(v) for v in interval["norms"]], "tokens": int(interval["tokens"]),
                  "penalties": [float(v) for v in interval.get("penalties", [])]}
        ts.rng.bit_generator.state = meta["rng"]
        ts.state = tuple(state)
    except CheckpointError:
        raise
    except (KeyError, ValueError, TypeError, AttributeError) as e:
        raise CheckpointError(f"checkpoint '{path}' lacks or garbles training state ({e}); "
                              "it is corrupt or from an older rnnlm: use another one") from None
