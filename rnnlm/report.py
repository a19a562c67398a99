"""What `rnnlm inspect` shows: the gradient flow of a run, read from its metrics.jsonl."""

import json

import typer

from .errors import RnnlmError
from .runs import check_run_dir, read_metrics


def pick_record(records, step=None):
    """The latest 'train' record with per-step norms, or the one at `step`."""
    train = [r for r in records if r.get("kind") == "train" and r.get("step_norms")]
    if not train:
        raise RnnlmError("this run has no logged gradient norms yet: train for at least "
                         "train.log_every steps")
    if step is None:
        return train[-1]
    for r in train:
        if r["step"] == step:
            return r
    steps = [r["step"] for r in train]
    raise RnnlmError(f"step {step} was not logged: logged steps run from {steps[0]} to "
                     f"{steps[-1]} every {steps[1] - steps[0] if len(steps) > 1 else 1}")


def summarize(run_dir, step=None):
    check_run_dir(run_dir)
    r = pick_record(read_metrics(run_dir), step)
    return {"run": str(run_dir), "step": r["step"], "loss": r["loss"],
            "grad_norm": r["grad_norm"], "grad_norm_clipped": r["grad_norm_clipped"],
            "clip_rate": r["clip_rate"],
            "step_norms": {f"layer{l}": norms for l, norms in enumerate(r["step_norms"])}}


def inspect_runs(run_dirs, step=None, png=None, as_json=False):
    reports = [summarize(d, step) for d in run_dirs]
    if as_json:
        typer.echo(json.dumps(reports[0] if len(reports) == 1 else {"runs": reports}))
        return
    for rep in reports:
        typer.echo(f"{rep['run']}  step {rep['step']}  loss {rep['loss']:.4f}")
        layers = list(rep["step_norms"])
        typer.echo("   t  " + "".join(f"{name:>12}" for name in layers))
        T = len(rep["step_norms"][layers[0]])
        for t in range(T):
            typer.echo(f"{t + 1:>4}  " + "".join(f"{rep['step_norms'][n][t]:12.3e}" for n in layers))
        typer.echo(f"global gradient norm {rep['grad_norm']:.4g} before clipping, "
                   f"{rep['grad_norm_clipped']:.4g} after; clipping fired on "
                   f"{100 * rep['clip_rate']:.1f}% of steps so far")
