"""`rnnlm bench`: training-step speed and memory, beside PyTorch."""

import sys
from typing import Annotated

import typer

from rnnlm.errors import RnnlmError

from .app import JsonOpt, _print_json, app, in_range, user_errors


@app.command()
@user_errors
def bench(configs: Annotated[str, typer.Option(
              metavar="A,B,...", help="Comma-separated: a, b, c, d-gru, d-rnn, default, b-adaptive.")] = "a,b,d-gru,d-rnn",
          threads: Annotated[str, typer.Option(
              metavar="N,...", help="Comma-separated BLAS thread counts, e.g. 1,2; each is measured.")] = "1,2",
          seconds: Annotated[float, typer.Option(
              metavar="S", help="Timing per config, thread count and side, split over the rounds.")] = 5.0,
          rounds: Annotated[int, typer.Option(
              metavar="R", help="Rounds per config and thread count (ours and PyTorch's alternate).")] = 3,
          torch: Annotated[bool, typer.Option("--torch", help="Time PyTorch too, in its own process, if installed.")] = False,
          probe: Annotated[bool, typer.Option("--probe", help="Also time the gradient-flow probe.")] = False,
          sample: Annotated[bool, typer.Option(
              "--sample", help="Also time sampling: one sample, and 32 as one batch.")] = False,
          json_: JsonOpt = False):
    """Tokens/s, GFLOP/s as a share of the matrix-product peak, and peak memory of one training
    step (float32), each (config, threads) in child processes; beside PyTorch with --torch."""
    from rnnlm.bench import CONFIGS, format_header, format_row, measure, torch_available
    in_range("--seconds", seconds, lo=0.0)
    in_range("--rounds", rounds, lo=1)
    names = [c.strip() for c in configs.split(",") if c.strip()]
    unknown = [c for c in names if c not in CONFIGS]
    if unknown or not names:
        what = f"unknown bench config {unknown[0]!r}" if unknown else "--configs names no config"
        raise RnnlmError(f"{what}: choose from {', '.join(CONFIGS)}")
    try:
        counts = [int(t) for t in threads.split(",") if t.strip()]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1:
        raise RnnlmError(f"--threads {threads!r} is not a list of thread counts: pass e.g. --threads 1,2")
    if torch and not torch_available():
        raise RnnlmError(f"--torch needs PyTorch, which {sys.executable} cannot import: "
                         "pip install torch==2.13.0 (the CPU build)")
    from rnnlm import fused, mkl
    paths = ("matrix products on MKL, the recurrent one packed (RNNLM_MKL=0: numpy's matmul)"
             if mkl.available() else "matrix products on numpy's matmul (MKL: pip install -e '.[mkl]' "
             "in the rnnlm checkout)")
    paths += ("; gate arithmetic compiled by numba (RNNLM_NUMBA=0: numpy)" if fused.available()
              else "; gate arithmetic on numpy (numba: pip install -e '.[fast]')")
    if not json_:
        typer.echo(paths)
        typer.echo(format_header(torch))
    results = []
    for name in names:
        for n in counts:
            results.append(measure(name, n, seconds, rounds, torch, probe, sample))
            if not json_:
                typer.echo(format_row(results[-1]))
    if json_:
        _print_json({"seconds": seconds, "rounds": rounds, "mkl": mkl.available(),
                     "numba": fused.available(), "results": results})
