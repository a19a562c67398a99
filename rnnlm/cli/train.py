"""`rnnlm train`: a config (or --corpus FILE) -> a trained run directory."""

from pathlib import Path
from typing import Annotated, Optional

import typer

from rnnlm.errors import RnnlmError

from .app import JsonOpt, SetOpt, _print_json, _set_threads, app, user_errors
from .sample import sample


@app.command()
@user_errors
def train(config: Annotated[Optional[Path], typer.Argument(
              metavar="CONFIG", help="YAML config file; optional with --corpus (every key at its "
                                     "default).")] = None,
          corpus: Annotated[Optional[Path], typer.Option(
              metavar="FILE", help="Train on this text file (sets data.corpus).")] = None,
          set_: SetOpt = None,
          out: Annotated[Optional[Path], typer.Option(
              "--out", metavar="DIR", help="Run directory (default: a new one, "
                                           "runs/NAME-YYYYMMDD-HHMMSS, printed).")] = None,
          resume: Annotated[bool, typer.Option(
              "--resume", help="Continue the run in --out from its newest valid checkpoint, "
                               "exactly where it stopped.")] = False,
          overwrite: Annotated[bool, typer.Option(
              "--overwrite", help="Start a new run in an --out that already holds one, deleting "
                                  "its checkpoints and metrics.")] = False,
          progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
          json_: JsonOpt = False):
    """Train a model as CONFIG says (or on --corpus FILE); metrics, checkpoints and the resolved
    config go to --out."""
    import dataclasses

    from rnnlm.config import load_config
    from rnnlm.errors import TextFileError
    from rnnlm.train import train as run_training
    from rnnlm.train.distributed import is_root
    if config is None and corpus is None:
        raise RnnlmError("give a config file (rnnlm train configs/default.yaml) or a text to "
                         "train on (rnnlm train --corpus my.txt)")
    if resume and overwrite:
        raise RnnlmError("--resume and --overwrite contradict each other: pass one of them")
    if resume and out is None:
        raise RnnlmError("--resume needs --out: the run directory to continue")
    cfg = load_config(config, set_ or ())
    if corpus is not None:
        cfg = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, corpus=str(corpus)))
    _set_threads(cfg.train.threads)
    announce = out is None  # a directory we choose is named once the run has started (a failed
    if announce:            # start removes it again)
        out = _fresh_run_dir(config or corpus)
    try:
        summary = run_training(cfg, out, resume=resume, progress=progress, overwrite=overwrite,
                               announce=announce)
    except TextFileError as e:
        if corpus is None:
            raise
        fix = ("pass --corpus the path of a text file" if e.problem in ("not found", "is a directory")
               else e.fix.replace("set data.tokenizer=byte", "add --set data.tokenizer=byte")
               .replace("set data.corpus to", "pass --corpus"))
        raise RnnlmError(f"--corpus '{corpus}' {e.problem}: {fix}") from None
    if not is_root():  # under mpiexec: rank 0 alone reports and samples
        return
    if json_:
        _print_json(summary)
        return
    first, steps = summary["first_step"], summary["steps"]
    what = f"trained steps {first + 1} to {steps}" if first else f"trained {steps} steps"
    typer.echo(f"{what} ({summary['tokens']} tokens in all); "
               f"valid loss {_fmt(summary['valid_loss'])}, best {_fmt(summary['best_valid_loss'])}; "
               f"clipping fired on {100 * summary['clip_rate']:.1f}% of steps; "
               f"{summary['minutes']:.1f} minutes; run in {out}",
               err=True)
    if cfg.train.sample_length:
        typer.echo("--- sample ---", err=True)
        sample(out, length=cfg.train.sample_length, seed=cfg.train.seed)


def _fresh_run_dir(source):
    """runs/NAME-YYYYMMDD-HHMMSS (NAME: the config's or corpus file's name), never an existing one."""
    import time
    base = Path("runs") / f"{Path(source).stem or 'run'}-{time.strftime('%Y%m%d-%H%M%S')}"
    out, n = base, 1
    while out.exists():
        n += 1
        out = base.with_name(f"{base.name}-{n}")
    return out


def _fmt(x):
    return "n/a" if x is None else f"{x:.4f}"
