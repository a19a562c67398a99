"""The typer app of the `rnnlm` command: the shared options, and the one place where every
user mistake (an RnnlmError) becomes one line on stderr and an exit code, never a traceback.

Results go to stdout (with --json: one JSON object and nothing else); progress and diagnostics to
stderr. Each command is a module of this package that registers itself on `app`.
"""

import functools
import json
import os
import signal
import sys
from pathlib import Path
from typing import Annotated, List, Optional

import typer

from rnnlm import __version__
from rnnlm.errors import RnnlmError

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
        from rnnlm.run.signals import Stopped
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
        except Exception as e:
            # A Ctrl-C inside a library's `with` block (zipfile's, during a checkpoint) can end
            # as that block's own error on the way out; it is still the interrupt.
            if not _caused_by_interrupt(e):
                raise
            typer.echo("rnnlm: interrupted", err=True)
            raise typer.Exit(130)
    return wrapper


def _caused_by_interrupt(e):
    """True when a KeyboardInterrupt is among the exceptions e was raised while handling."""
    seen = set()
    while e is not None and id(e) not in seen:
        if isinstance(e, KeyboardInterrupt):
            return True
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return False


def _set_threads(n):
    """BLAS threads, set through the environment before numpy is first imported (0 = default)."""
    if n and n > 0:
        if "numpy" in sys.modules:
            from rnnlm.console import warn
            warn("numpy already loaded; thread count unchanged")
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(n)


def in_range(option, value, lo=None, hi=None):
    """RnnlmError unless lo <= value <= hi: typer would print a usage block, not one line."""
    if value is None or ((lo is None or value >= lo) and (hi is None or value <= hi)):
        return
    bounds = " and ".join(w for w in (f">= {lo}" if lo is not None else "",
                                      f"<= {hi}" if hi is not None else "") if w)
    raise RnnlmError(f"{option} {value} is out of range: give a value {bounds}")


def _print_json(obj):
    typer.echo(json.dumps(obj, indent=None, sort_keys=False))


def main():
    from rnnlm.process import prepare
    prepare()  # before numpy is loaded
    try:
        app()
    finally:
        # The command is over: a Ctrl-C that lands while the interpreter shuts down is ignored
        # (the exit code stays the command's own) rather than printing a traceback.
        signal.signal(signal.SIGINT, signal.SIG_IGN)

