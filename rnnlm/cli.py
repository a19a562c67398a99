"""The `rnnlm` command: thin wrappers that parse, call one library function, and print.

Results go to stdout (with --json: one JSON object and nothing else); progress and diagnostics to
stderr. Every user mistake is an RnnlmError, turned here, in one place, into one line on stderr
and a non-zero exit code, never a traceback.
"""

import functools
import json
import os
import signal
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, List, Optional

import typer

from .errors import RnnlmError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Recurrent language models in hand-written numpy, with a window into "
                       "how gradients flow back through time.")

SetOpt = Annotated[Optional[List[str]], typer.Option(
    "--set", help="Override a config key, e.g. --set optim.lr=0.01 (repeatable).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
RunArg = Annotated[Path, typer.Argument(help="A run directory written by `rnnlm train --out`.")]


class Which(str, Enum):
    best = "best"
    last = "last"


def user_errors(fn):
    """Turn RnnlmError into one line on stderr and its exit code; Ctrl-C into exit 130.

    A training run stopped by a signal (after its checkpoint) is not an error: its line says so,
    and the exit code is 128 + the signal number (130 SIGINT, 143 SIGTERM)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from .run.signals import Stopped
        try:
            return fn(*args, **kwargs)
        except Stopped as e:
            typer.echo(f"rnnlm: {e}", err=True)
            raise typer.Exit(e.exit_code)
        except RnnlmError as e:
            typer.echo(f"rnnlm: error: {e}", err=True)
            raise typer.Exit(e.exit_code)
        except KeyboardInterrupt:
            typer.echo("rnnlm: interrupted", err=True)
            raise typer.Exit(130)
        except MemoryError:
            typer.echo("rnnlm: error: out of memory: lower model.hidden_size, model.layers, "
                       "train.batch_size or train.bptt", err=True)
            raise typer.Exit(1)
    return wrapper


def _set_threads(n):
    """BLAS threads, set through the environment before numpy is first imported (0 = default)."""
    if n and n > 0:
        if "numpy" in sys.modules:
            from .console import warn
            warn("numpy already loaded; thread count unchanged")
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(n)


def _print_json(obj):
    typer.echo(json.dumps(obj, indent=None, sort_keys=False))


@app.command()
@user_errors
def train(config: Annotated[Path, typer.Argument(help="YAML config file.")],
          set_: SetOpt = None,
          out: Annotated[Path, typer.Option("--out", help="Run directory.")] = Path("runs/latest"),
          resume: Annotated[bool, typer.Option(
              "--resume", help="Continue the run in --out from its newest valid checkpoint, "
                               "exactly where it stopped.")] = False,
          overwrite: Annotated[bool, typer.Option(
              "--overwrite", help="Start a new run in an --out that already holds one, deleting "
                                  "its checkpoints and metrics.")] = False,
          progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
          json_: JsonOpt = False):
    """Train a model as CONFIG says; metrics, checkpoints and the resolved config go to --out."""
    from .config import load_config
    from .train import train as run_training
    cfg = load_config(config, set_ or ())
    _set_threads(cfg.train.threads)
    if resume and overwrite:
        raise RnnlmError("--resume and --overwrite contradict each other: pass one of them")
    summary = run_training(cfg, out, resume=resume, progress=progress, overwrite=overwrite)
    if json_:
        _print_json(summary)
        return
    typer.echo(f"trained {summary['steps']} steps ({summary['tokens']} tokens); "
               f"valid loss {_fmt(summary['valid_loss'])}, best {_fmt(summary['best_valid_loss'])}; "
               f"clipping fired on {100 * summary['clip_rate']:.1f}% of steps; run in {out}",
               err=True)
    if cfg.train.sample_length:
        typer.echo("--- sample ---", err=True)
        sample(out, length=cfg.train.sample_length, seed=cfg.train.seed)


def _fmt(x):
    return "n/a" if x is None else f"{x:.4f}"


@app.command()
@user_errors
def sample(run_dir: RunArg,
           length: Annotated[int, typer.Option(min=0, help="Tokens to generate.")] = 500,
           temperature: Annotated[float, typer.Option(min=0.0, help="0 = greedy.")] = 1.0,
           top_k: Annotated[int, typer.Option(min=0, help="Keep the k likeliest (0 = all).")] = 0,
           top_p: Annotated[float, typer.Option(min=0.0, max=1.0, help="Nucleus mass.")] = 1.0,
           prompt: Annotated[str, typer.Option(help="Text to start from (printed first).")] = "",
           seed: Annotated[Optional[int], typer.Option(help="Same seed, same text.")] = None,
           checkpoint: Annotated[Which, typer.Option(help="Which checkpoint.")] = Which.best):
    """Generate text from a run's checkpoint, streamed to stdout."""
    import numpy as np

    from .infer.load import load_run
    from .infer.sample import generate
    run = load_run(run_dir, checkpoint.value)
    tok = run.tokenizer
    prompt_ids = tok.encode(prompt) if prompt else []
    start = tok.encode("\n", unknown="skip")
    start_id = int(start[0]) if len(start) else 0
    rng = np.random.default_rng(seed)
    sys.stdout.write(prompt)
    for token in generate(run.params, run.spec, prompt_ids, length, rng, temperature, top_k,
                          top_p, start_id):
        sys.stdout.write(tok.decode([token]))
        sys.stdout.flush()
    sys.stdout.write("\n")


class Split(str, Enum):
    valid = "valid"
    test = "test"


@app.command("eval")
@user_errors
def eval_(run_dir: RunArg,
          text: Annotated[Optional[Path], typer.Option(help="Evaluate on this text file.")] = None,
          split: Annotated[Split, typer.Option(help="Or on a split of the run's corpus.")] = Split.test,
          bptt: Annotated[int, typer.Option(min=1, help="Window length (state carried).")] = 256,
          checkpoint: Annotated[Which, typer.Option(help="Which checkpoint.")] = Which.best,
          json_: JsonOpt = False):
    """Loss (nats/token), bits per token and per character, and perplexity on a text, state carried from zero."""
    from .errors import DataError
    from .infer.data import file_text, split_text
    from .infer.evaluate import evaluate_ids, summary
    from .infer.load import load_run
    run = load_run(run_dir, checkpoint.value)
    if text is not None:
        ids, size, source = file_text(run, text)
    else:
        ids, size, source = split_text(run, split.value)
    if len(ids) < 2:
        raise DataError(f"{source} has fewer than 2 tokens: nothing to evaluate; pick a longer text")
    loss, tokens = evaluate_ids(run.params, run.spec, ids, bptt)
    result = dict(summary(loss, tokens, size), unknown=size.get("unknown", 0), source=source,
                  step=run.meta.get("step"))
    if json_:
        _print_json(result)
    else:
        per_char = (f", {result['bits_per_char']:.4f} bits/char, {result['bits_per_byte']:.4f} bits/byte"
                    if result.get("bits_per_char") is not None else "")
        unknown = f"; {result['unknown']} unknown token(s) scored as <unk>" if result["unknown"] else ""
        typer.echo(f"{source}: {tokens} tokens, loss {loss:.4f} nats/token, "
                   f"{result['bits_per_token']:.4f} bits/token{per_char}, perplexity "
                   f"{result['perplexity']:.3f}{unknown}")


@app.command()
@user_errors
def inspect(run_dirs: Annotated[List[Path], typer.Argument(help="One or more run directories.")],
            step: Annotated[Optional[int], typer.Option(help="A logged step (default: the latest).")] = None,
            png: Annotated[Optional[Path], typer.Option(help="Also draw the figures to this PNG.")] = None,
            json_: JsonOpt = False):
    """How the gradient flows back through time: per-step norms, clipping, a verdict."""
    from .diagnostics.report import inspect_runs
    text = inspect_runs(run_dirs, step=step, png=png, as_json=json_)
    if text is not None:
        typer.echo(text)


@app.command()
@user_errors
def gradcheck(config: Annotated[Optional[Path], typer.Argument(help="YAML config (default: defaults).")] = None,
              set_: SetOpt = None,
              json_: JsonOpt = False):
    """Check every analytic gradient of a small float64 copy of the model by finite differences."""
    from .config import build, load_config
    from .model.gradcheck import TOLERANCE, check_model, small_spec
    cfg = load_config(config, set_ or ())
    spec = small_spec(build.model_spec(cfg, 11))
    errors = check_model(spec, init=build.init_spec(cfg))
    worst = max(errors.values())
    ok = worst < TOLERANCE
    if json_:
        _print_json({"cell": spec.cell, "layers": spec.layers, "dropout": spec.dropout,
                     "tolerance": TOLERANCE, "worst": worst, "passed": ok, "errors": errors})
    else:
        typer.echo(f"gradient check: {spec.cell}, {spec.layers} layer(s), float64, V={spec.vocab_size} "
                   f"D={spec.embed_size} H={spec.hidden_size}, dropout {spec.dropout}")
        for name, err in errors.items():
            typer.echo(f"  {name:<14} {err:9.2e}  {'ok' if err < TOLERANCE else 'FAIL'}")
        typer.echo(f"worst relative error {worst:.2e} ({'passed' if ok else 'FAILED'}, "
                   f"tolerance {TOLERANCE:g})")
    if not ok:
        raise typer.Exit(1)


@app.command()
@user_errors
def bench(configs: Annotated[str, typer.Option(help="Comma-separated: a, b, c, d-gru, d-rnn, default.")] = "a,b,d-gru,d-rnn",
          seconds: Annotated[float, typer.Option(min=0.0, help="Timing per config.")] = 5.0,
          threads: Annotated[int, typer.Option(min=0, help="BLAS threads (0 = default).")] = 0,
          torch: Annotated[bool, typer.Option("--torch", help="Time PyTorch alongside, if installed.")] = False,
          probe: Annotated[bool, typer.Option("--probe", help="Also time the gradient-flow probe.")] = False,
          json_: JsonOpt = False):
    """Tokens per second and peak memory of one training step (float32), side by side with PyTorch."""
    _set_threads(threads)
    from .bench import CONFIGS, measure
    names = [c.strip() for c in configs.split(",") if c.strip()]
    unknown = [c for c in names if c not in CONFIGS]
    if unknown:
        raise RnnlmError(f"unknown bench config {unknown[0]!r}: choose from {', '.join(CONFIGS)}")
    if torch:
        try:
            import torch as _  # noqa: F401
        except ImportError:
            raise RnnlmError("--torch needs PyTorch: pip install torch (CPU build)") from None
    results = []
    for name in names:
        r = measure(name, seconds, threads or None, torch, probe=probe)
        results.append(r)
        if not json_:
            line = (f"{name:<8} {r['cell']:<9} numpy {r['numpy_tokens_per_s']:9.0f} tok/s "
                    f"({r['numpy_step_ms']:7.1f} ms/step, peak {r['numpy_peak_mib']:6.1f} MiB)")
            if torch:
                line += (f"   torch {r['torch_tokens_per_s']:9.0f} tok/s   numpy/torch "
                         f"{r['numpy_over_torch']:.2f}")
            if probe:
                line += (f"   probe {r['probe_ms']:.1f} ms: probe_every=10 keeps "
                         f"{r['probe_every_10_keeps']:.2f} of tok/s")
            typer.echo(line)
    if json_:
        _print_json({"threads": threads, "results": results})


def main():
    try:
        app()
    finally:
        # The command is over: a Ctrl-C that lands while the interpreter shuts down is ignored
        # (the exit code stays the command's own) rather than printing a traceback.
        signal.signal(signal.SIGINT, signal.SIG_IGN)


if __name__ == "__main__":
    main()
