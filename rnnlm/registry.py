"""Every pluggable concept of rnnlm, named once: cells, output heads, tokenizers, optimizers, LR
schedules.

Each entry maps the name a config uses to the object that implements it ("module:attribute") and
a one-line description. The config's choices, `--help` and the README's config reference are
read from these tables, and the code looks implementations up here, so adding an optimizer is one
new module plus one line below. Nothing is imported until it is used: loading a config does not
pull in the math.
"""

import importlib
from typing import Any, NamedTuple


class Entry(NamedTuple):
    target: str  # "package.module:attribute"
    help: str  # one line for --help and the README


CELLS = {
    "rnn_tanh": Entry("rnnlm.nn.cells.rnn:TANH", "Elman RNN, h = tanh(x W_x + h W_h + b)"),
    "rnn_relu": Entry("rnnlm.nn.cells.rnn:RELU", "Elman RNN, h = max(0, x W_x + h W_h + b)"),
    "gru": Entry("rnnlm.nn.cells.gru:GRU", "gated recurrent unit, gates [r, z, n]"),
    "lstm": Entry("rnnlm.nn.cells.lstm:LSTM", "long short-term memory, gates [i, f, o, g]"),
}

HEADS = {
    "full": Entry("rnnlm.nn.heads.full:FULL", "softmax over the whole vocabulary"),
    "adaptive": Entry("rnnlm.nn.heads.adaptive:ADAPTIVE",
                      "adaptive softmax (Grave et al. 2017): frequent ids in a head, rarer ids in "
                      "tail clusters split at model.adaptive_cutoffs; needs ids sorted by frequency"),
}

TOKENIZERS = {
    "char": Entry("rnnlm.data.tokenizers.char:CharTokenizer",
                  "one token per Unicode character, vocabulary fitted on the corpus"),
    "byte": Entry("rnnlm.data.tokenizers.byte:ByteTokenizer",
                  "the 256 byte values of the UTF-8 text; never an unknown symbol"),
    "word": Entry("rnnlm.data.tokenizers.word:WordTokenizer",
                  "one token per word, <eos> at line ends, <unk> outside data.vocab_size"),
    "bpe": Entry("rnnlm.data.tokenizers.bpe:BpeTokenizer",
                 "byte-level byte-pair encoding learned on the training text to data.vocab_size"),
}

OPTIMIZERS = {
    "sgd": Entry("rnnlm.optim.sgd:SGD",
                  "stochastic gradient descent, optional momentum (Nesterov too)"),
    "adagrad": Entry("rnnlm.optim.adagrad:Adagrad",
                  "lr / sqrt(sum of squared gradients), per weight (min-char-rnn)"),
    "rmsprop": Entry("rnnlm.optim.rmsprop:RMSprop",
                  "lr / sqrt(running mean of squared gradients), decay optim.alpha (char-rnn)"),
    "adam": Entry("rnnlm.optim.adam:Adam", "Adam; weight_decay is L2, added to the gradient"),
    "adamw": Entry("rnnlm.optim.adamw:AdamW", "Adam with decoupled weight decay (AdamW)"),
    "ntasgd": Entry("rnnlm.optim.ntasgd:NTASGD",
                  "SGD, then averaged SGD once validation stalls (AWD-LSTM's NT-ASGD)"),
}

SCHEDULES = {
    "constant": Entry("rnnlm.optim.schedules.constant:Constant", "the peak lr throughout"),
    "step": Entry("rnnlm.optim.schedules.step:Step",
                  "lr times gamma at each milestone, or every step_size steps"),
    "exponential": Entry("rnnlm.optim.schedules.exponential:Exponential",
                  "lr times gamma per step_size steps, smoothly"),
    "plateau": Entry("rnnlm.optim.schedules.plateau:Plateau",
                  "lr divided by factor when validation stalls for patience evaluations"),
    "cosine": Entry("rnnlm.optim.schedules.cosine:Cosine", "half a cosine from lr down to min_lr"),
    "linear": Entry("rnnlm.optim.schedules.linear:Linear", "a straight line from lr down to min_lr"),
}


def load(table: dict, name: str) -> Any:
    """The object registered under `name` in `table` (imported on first use)."""
    module, _, attr = table[name].target.partition(":")
    return getattr(importlib.import_module(module), attr)


def choices(table: dict) -> tuple:
    return tuple(table)


def describe(table: dict) -> str:
    """'a: help; b: help' for a config key's meaning."""
    return "; ".join(f"{name}: {entry.help}" for name, entry in table.items())
