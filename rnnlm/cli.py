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

from . import __version__
from .errors import RnnlmError

# Plain help (no rich panels), like the command-line tools people know: `--resume`, not
# `--resume <bool>`; `CONFIG`, not `{config}` or `<path>`.
app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  rich_markup_mode=None,
                  help="Recurrent language models in hand-written numpy, with a window into "
                       "how gradients flow back through time.")


def _plain_argument_help():
    """typer shows an argument as `{CONFIG}` in the usage line and `CONFIG <path>` in the list;
    show it by its metavar alone, in brackets when it is optional."""
    from typer.core import TyperArgument

    def usage_name(self):
        name = self.display_name_raw + ("..." if self.nargs != 1 else "")
        return name if self.required else f"[{name}]"

    if hasattr(TyperArgument, "_usage_display_name"):
        TyperArgument._usage_display_name = usage_name
    if hasattr(TyperArgument, "display_type_rich"):
        TyperArgument.display_type_rich = lambda self, ctx: None


_plain_argument_help()

SetOpt = Annotated[Optional[List[str]], typer.Option(
    "--set", metavar="KEY=VALUE", help="Override a config key, e.g. --set optim.lr=0.01 (repeatable).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
RunArg = Annotated[Path, typer.Argument(metavar="RUN_DIR",
                                        help="A run directory written by `rnnlm train`.")]


CheckpointOpt = Annotated[str, typer.Option(
    metavar="best|last|PATH",
    help="Which checkpoint: best (lowest validation loss), last, or the path of a checkpoint "
         "file (of the run's checkpoints/ folder, or anywhere).")]


def _version(value: bool):
    if value:
        typer.echo(f"rnnlm {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True, help="Print the version and exit.")] = False):
    """Recurrent language models in hand-written numpy, with a window into how gradients flow
    back through time."""


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

    from .config import load_config
    from .console import say
    from .errors import TextFileError
    from .train import train as run_training
    from .train.distributed import is_root
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
    if out is None:
        out = _fresh_run_dir(config or corpus)
        if is_root():
            say(f"run directory: {out}")
    try:
        summary = run_training(cfg, out, resume=resume, progress=progress, overwrite=overwrite)
    except TextFileError as e:
        if corpus is None:
            raise
        fix = ("pass --corpus the path of a text file" if e.problem in ("not found", "is a directory")
               else e.fix.replace("set data.tokenizer=byte", "add --set data.tokenizer=byte"))
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
               f"clipping fired on {100 * summary['clip_rate']:.1f}% of steps; run in {out}",
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


@app.command()
@user_errors
def sample(run_dir: RunArg,
           length: Annotated[int, typer.Option(metavar="N", help="Tokens to generate.")] = 500,
           temperature: Annotated[float, typer.Option(min=0.0, metavar="T", help="0 = greedy.")] = 1.0,
           top_k: Annotated[int, typer.Option(min=0, metavar="K",
                                              help="Keep the k likeliest (0 = all).")] = 0,
           top_p: Annotated[float, typer.Option(
               metavar="P", help="Keep the smallest set of likeliest tokens holding this much "
                                 "probability, 0 < P <= 1 (1 = all).")] = 1.0,
           prompt: Annotated[str, typer.Option(metavar="TEXT",
                                               help="Text to start from (printed first).")] = "",
           prompt_file: Annotated[Optional[Path], typer.Option(
               metavar="FILE", help="Start from the text of this file instead.")] = None,
           seed: Annotated[Optional[int], typer.Option(
               min=0, metavar="S", help="Same seed, same text; sample i of --num-samples uses "
                                        "S + i.")] = None,
           num_samples: Annotated[int, typer.Option(
               min=1, max=4096, metavar="N", help="Generate N samples together, as one batch.")] = 1,
           stop: Annotated[Optional[List[str]], typer.Option(
               metavar="STRING", help="End a sample where its text first holds STRING (not "
                                      "printed; repeatable).")] = None,
           beam: Annotated[int, typer.Option(
               min=0, metavar="N", help="Beam search of width N for the likeliest continuation "
                                        "instead of sampling (0 = sample).")] = 0,
           length_norm: Annotated[float, typer.Option(
               min=0.0, metavar="ALPHA", help="Beam search: rank by log p / length^ALPHA (0 = "
                                              "total log p).")] = 0.0,
           interactive: Annotated[bool, typer.Option(
               "--interactive", help="A prompt loop: each line typed is a prompt; the state "
                                     "carries over until /reset; /quit ends.")] = False,
           checkpoint: CheckpointOpt = "best",
           json_: JsonOpt = False):
    """Generate text from a run's checkpoint, streamed to stdout (which checkpoint: on stderr)."""
    import numpy as np

    from .console import say
    from .infer.generate import (SampleOptions, check_options, encode_prompt, generate_samples,
                                 interactive as prompt_loop, read_prompt_file, records)
    from .infer.load import load_run
    if prompt and prompt_file is not None:
        raise RnnlmError("--prompt and --prompt-file both give a prompt: pass one of them")
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % 2 ** 31)
    opts = SampleOptions(length, temperature, top_k, top_p, seed, num_samples, tuple(stop or ()),
                         beam, length_norm)
    run = load_run(run_dir, checkpoint)
    check_options(opts, run.tokenizer.vocab_size)
    say(f"sampling from {run.path} (step {run.meta.get('step')}), seed {seed}")
    if interactive:
        prompt_loop(run, opts, read=lambda: input("> "), say=say,
                    write=lambda text: (sys.stdout.write(text), sys.stdout.flush()))
        return
    option = "--prompt-file" if prompt_file is not None else "--prompt"
    text = read_prompt_file(prompt_file) if prompt_file is not None else prompt
    prompt_ids = encode_prompt(run.tokenizer, text, option)
    if json_:
        rows = generate_samples(run, prompt_ids, opts)
        _print_json({"checkpoint": str(run.path), "step": run.meta.get("step"), "prompt": text,
                     "samples": records(run, prompt_ids, rows)})
        return
    if num_samples == 1:  # streamed as it is made
        sys.stdout.write(text)
        generate_samples(run, prompt_ids, opts,
                         show=lambda i, piece: (sys.stdout.write(piece), sys.stdout.flush()))
        sys.stdout.write("\n")
        return
    for row in generate_samples(run, prompt_ids, opts):
        sys.stdout.write(f"--- sample {row.seed - seed + 1} of {num_samples} (seed {row.seed}) ---\n")
        sys.stdout.write(text + row.text + "\n")


class Split(str, Enum):
    valid = "valid"
    test = "test"


@app.command("eval")
@user_errors
def eval_(run_dir: RunArg,
          text: Annotated[Optional[Path], typer.Option(metavar="FILE",
                                                       help="Evaluate on this text file.")] = None,
          split: Annotated[Split, typer.Option(metavar="valid|test", case_sensitive=False,
                                               help="Or on a split of the run's corpus.")] = Split.test,
          bptt: Annotated[Optional[int], typer.Option(
              min=1, metavar="T", help="Window length, state carried across windows (default: "
                                       "the run's train.bptt).")] = None,
          streams: Annotated[Optional[int], typer.Option(
              min=1, metavar="N", help="Cut the text into N parallel streams, each from a zero "
                                       "state (default: as training validates, train.batch_size, "
                                       "fewer for a short text); 1 = one sequence.")] = None,
          per_token: Annotated[Optional[Path], typer.Option(
              metavar="FILE", help="Also write each token's text and log-probability to FILE as "
                                   "JSON lines (scores the text as one stream; FILE must not "
                                   "exist yet).")] = None,
          checkpoint: CheckpointOpt = "best",
          json_: JsonOpt = False):
    """Loss (nats/token), bits per token and per character, and perplexity on a text, measured
    the way training validates (so `--split valid` gives training's valid loss); --streams 1 for
    one sequence."""
    from .errors import DataError, TextFileError, UnknownSymbolsError
    from .infer.data import file_text, split_text
    from .infer.evaluate import evaluate_ids, protocol_words, summary, validation_streams
    from .infer.load import load_run
    run = load_run(run_dir, checkpoint)
    if text is not None:
        try:
            ids, size, source = file_text(run, text)
        except TextFileError as e:
            raise DataError(f"--text '{text}' {e.problem}: {_text_fix(e.problem)}") from None
        except UnknownSymbolsError as e:
            raise DataError(f"--text '{text}' has {e.count} character(s) this run never saw in "
                            f"training ({', '.join(map(repr, e.symbols))}): a char model scores "
                            "only text made of its training characters; remove them or pick "
                            "another text") from None
    else:
        ids, size, source = split_text(run, split.value)
    if len(ids) < 2:
        raise DataError(f"{source} has fewer than 2 tokens: nothing to evaluate; pick a longer text")
    bptt = bptt or run.config.train.bptt
    if per_token is not None:
        if streams not in (None, 1):
            raise RnnlmError("--per-token scores the text as one stream, in order: drop --streams")
        streams = 1
    streams = streams or validation_streams(len(ids), run.config.train.batch_size)
    if streams > (len(ids) - 1) // 2 and streams > 1:
        raise DataError(f"--streams {streams} is too many for {source} ({len(ids)} tokens, each "
                        f"stream needs 2): use at most {max(1, (len(ids) - 1) // 2)}")
    if per_token is not None:
        from .infer.per_token import write_per_token
        loss, tokens = write_per_token(run, ids, bptt, per_token)
    else:
        loss, tokens = evaluate_ids(run.params, run.spec, ids, bptt, streams)
    result = dict(summary(loss, tokens, size), unknown=size.get("unknown", 0), source=source,
                  step=run.meta.get("step"), streams=streams, bptt=bptt)
    if json_:
        _print_json(result)
    else:
        per_char = (f", {result['bits_per_char']:.4f} bits/char, {result['bits_per_byte']:.4f} bits/byte"
                    if result.get("bits_per_char") is not None else "")
        unknown = f"; {result['unknown']} unknown token(s) scored as <unk>" if result["unknown"] else ""
        typer.echo(f"{source}: {tokens} tokens ({protocol_words(streams, bptt)}), "
                   f"loss {loss:.4f} nats/token, {result['bits_per_token']:.4f} bits/token"
                   f"{per_char}, perplexity {result['perplexity']:.3f}{unknown}")


def _text_fix(problem):
    """The fix for an unusable --text file (the corpus advice is about data.corpus)."""
    if problem in ("not found", "is a directory"):
        return "pass --text the path of a text file"
    if problem.startswith(("is empty", "has no text")):
        return "pass --text a file with text in it"
    return "this run reads UTF-8 text: convert the file to UTF-8 (e.g. iconv -t utf-8)"


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
    from .diagnostics.report import inspect_runs
    text = inspect_runs(run_dirs, step=step, png=png, as_json=json_)
    if text is not None:
        typer.echo(text)


@app.command()
@user_errors
def gradcheck(config: Annotated[Optional[Path], typer.Argument(
                  metavar="CONFIG", help="YAML config (default: every key at its default).")] = None,
              set_: SetOpt = None,
              json_: JsonOpt = False):
    """Check every analytic gradient of a small float64 copy of the model by finite differences."""
    from .config import build, load_config
    from .model.gradcheck import TOLERANCE, check_config, small_spec
    cfg = load_config(config, set_ or ())
    spec = small_spec(build.model_spec(cfg, 11))
    errors, windows = check_config(spec, build.init_spec(cfg), cfg.train.bptt_mode)
    worst = max(errors.values())
    ok = worst < TOLERANCE
    regs = ", ".join(f"{k} {v}" for k, v in _regularisers(spec)) or "no regulariser"
    if json_:
        _print_json({"cell": spec.cell, "layers": spec.layers, "dropout": spec.dropout,
                     "regularisers": dict(_regularisers(spec)), "bptt_mode": cfg.train.bptt_mode,
                     "windows": windows, "tolerance": TOLERANCE, "worst": worst, "passed": ok,
                     "errors": errors})
    else:
        typer.echo(f"gradient check: {spec.cell}, {spec.layers} layer(s), float64, V={spec.vocab_size} "
                   f"D={spec.embed_size} H={spec.hidden_size}, dropout {spec.dropout}; {regs}; "
                   f"bptt_mode {cfg.train.bptt_mode}: {windows}")
        for name, err in errors.items():
            typer.echo(f"  {name:<14} {err:9.2e}  {'ok' if err < TOLERANCE else 'FAIL'}")
        typer.echo(f"worst relative error {worst:.2e} ({'passed' if ok else 'FAILED'}, "
                   f"tolerance {TOLERANCE:g})")
    if not ok:
        raise typer.Exit(1)


def _regularisers(spec):
    """(name, value) of each regulariser of a spec that is on, for gradcheck's header."""
    out = [(f"dropout_{w}", spec.rate(w)) for w in ("embed", "layers", "output") if spec.rate(w)]
    out += [(k, getattr(spec, k)) for k in ("dropout_locked", "dropout_words", "weight_drop",
                                            "tie_weights", "ar", "tar") if getattr(spec, k)]
    return out


@app.command()
@user_errors
def bench(configs: Annotated[str, typer.Option(
              metavar="A,B,...", help="Comma-separated: a, b, c, d-gru, d-rnn, default.")] = "a,b,d-gru,d-rnn",
          threads: Annotated[str, typer.Option(
              metavar="N,...", help="Comma-separated BLAS thread counts, e.g. 1,2; each is measured.")] = "1,2",
          seconds: Annotated[float, typer.Option(
              min=0.0, metavar="S", help="Timing per config, thread count and side, split over the rounds.")] = 5.0,
          rounds: Annotated[int, typer.Option(
              min=1, metavar="R", help="Rounds per config and thread count (ours and PyTorch's alternate).")] = 3,
          torch: Annotated[bool, typer.Option("--torch", help="Time PyTorch too, in its own process, if installed.")] = False,
          probe: Annotated[bool, typer.Option("--probe", help="Also time the gradient-flow probe.")] = False,
          json_: JsonOpt = False):
    """Tokens/s, GFLOP/s as a share of the matrix-product peak, and peak memory of one training
    step (float32), each (config, threads) in child processes; beside PyTorch with --torch."""
    from .bench import CONFIGS, format_header, format_row, measure, torch_available
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
    if not json_:
        typer.echo(format_header(torch))
    results = []
    for name in names:
        for n in counts:
            results.append(measure(name, n, seconds, rounds, torch, probe))
            if not json_:
                typer.echo(format_row(results[-1]))
    if json_:
        _print_json({"seconds": seconds, "rounds": rounds, "results": results})


def main():
    try:
        app()
    finally:
        # The command is over: a Ctrl-C that lands while the interpreter shuts down is ignored
        # (the exit code stays the command's own) rather than printing a traceback.
        signal.signal(signal.SIGINT, signal.SIG_IGN)


if __name__ == "__main__":
    main()
