"""rnnlm: recurrent language models in hand-written numpy, with gradient-flow diagnostics."""

__version__ = "0.1.0"
