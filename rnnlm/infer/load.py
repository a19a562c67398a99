"""A trained model back from a run directory: its config, tokenizer, spec and parameters."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnlm.config import Config, build, config_from_dict
from rnnlm.data.tokenizers import tokenizer_from_dict
from rnnlm.errors import CheckpointError
from rnnlm.model import ModelSpec, param_shapes
from rnnlm.run.checkpoint import load_checkpoint, param_arrays
from rnnlm.run.paths import RunPaths, check_run_dir


@dataclass
class LoadedRun:
    config: Config
    tokenizer: object
    spec: ModelSpec
    params: dict
    meta: dict
    path: Path | None = None  # the checkpoint file read


def checkpoint_path(run_dir, which="best"):
    """The checkpoint file `which` names: 'best' (else last when there is no best yet), 'last',
    or a path: as given, or relative to the run's checkpoints/ folder."""
    paths = RunPaths(Path(run_dir))
    if which.lower() in ("best", "last"):
        return paths.best if which.lower() == "best" and paths.best.is_file() else paths.last
    path = Path(which)
    if not path.exists() and not path.is_absolute() and (paths.checkpoints / path).exists():
        path = paths.checkpoints / path
    if not path.is_file():
        what = "is a directory" if path.is_dir() else "not found"
        raise CheckpointError(f"--checkpoint '{which}' {what}: give best, last, or the path of a "
                              f"checkpoint file (such as {paths.checkpoints / 'last.npz'})")
    return path


def load_run(run_dir, which="best"):
    """The config, tokenizer and parameters of a run's checkpoint: 'best' (else 'last'), 'last',
    or the path of a checkpoint file (see checkpoint_path)."""
    check_run_dir(run_dir)
    path = checkpoint_path(run_dir, which)
    if not path.is_file():
        raise CheckpointError(f"run '{run_dir}' has no checkpoint yet: it is written every "
                              "train.eval_every steps and at the end; wait for the first one, or "
                              "continue the run with `rnnlm train ... --resume`")
    arrays, meta = load_checkpoint(path)
    cfg = config_from_dict(meta.get("config"))
    tokenizer = tokenizer_from_dict(meta.get("tokenizer"))
    spec = build.model_spec(cfg, tokenizer.vocab_size)
    params = param_arrays(arrays)
    dtype = np.dtype(cfg.train.dtype)
    for name, shape in param_shapes(spec).items():
        a = params.get(name)
        if a is None or a.shape != shape or a.dtype != dtype:
            raise CheckpointError(f"checkpoint '{path}' does not match its config: parameter "
                                  f"'{name}' should be {shape} {dtype}; the file is corrupt")
    return LoadedRun(cfg, tokenizer, spec, params, meta, path)
