"""`rnnlm inspect`: the gradient-flow report of one or more runs."""

from pathlib import Path
from typing import Annotated, List, Optional

import typer

from .app import JsonOpt, app, user_errors


@app.command()
@user_errors
def inspect(run_dirs: Annotated[List[Path], typer.Argument(
                metavar="RUN_DIR", help="One or more run directories.")],
            step: Annotated[Optional[int], typer.Option(
                metavar="N", help="A logged step (default: the latest).")] = None,
            png: Annotated[Optional[Path], typer.Option(
                metavar="FILE", help="Also draw the figures to this PNG file.")] = None,
            json_: JsonOpt = False):
    """How the gradient flows back through time: per-step norms, clipping, a verdict."""
    from rnnlm.diagnostics.report import inspect_runs
    text = inspect_runs(run_dirs, step=step, png=png, as_json=json_)
    if text is not None:
        typer.echo(text)
