"""Output heads: the top layer's output -> a distribution over the vocabulary, its loss and its
gradient. ``get_head(name)`` looks one up in rnnlm/registry.py (HEADS); softmax.py holds the
log-softmax and cross-entropy pieces the heads and the diagnostics share.

    full      full.py      logits = X W + b over all V, softmax; one (N, V) buffer in training
    adaptive  adaptive.py  Grave et al. (2017): frequent words in a head softmax, the rest in tail
                           clusters reached through the head, with narrower projections
"""

from rnnlm import registry

from .base import Head
from .softmax import cross_entropy, log_softmax, softmax_cross_entropy, token_nll

__all__ = ["Head", "cross_entropy", "get_head", "head_params", "log_softmax",
           "softmax_cross_entropy", "token_nll"]


def get_head(name) -> Head:
    """The Head registered under `name` (ValueError for an unknown one)."""
    if name not in registry.HEADS:
        raise ValueError(f"unknown head {name!r}: choose one of {', '.join(registry.HEADS)}")
    return registry.load(registry.HEADS, name)


def head_params(params):
    """The head's view of the model's parameters: ``head.X`` -> ``X``."""
    return {k[5:]: v for k, v in params.items() if k.startswith("head.")}
