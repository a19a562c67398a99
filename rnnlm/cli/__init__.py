"""The `rnnlm` command: one module per command, each a thin wrapper that parses, calls the
library and prints; app.py holds the typer app, the shared options and the one place where
errors become exit codes."""

from . import bench, evaluate, gradcheck, inspect, sample, train  # noqa: F401  (the commands)
from .app import app, main

__all__ = ["app", "main"]
