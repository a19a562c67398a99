"""What an output head is: the map from the top layer's output to a distribution over V.

Each head module builds one ``Head`` (registered by name in rnnlm/registry.py, table HEADS); the
model, the trainer, the evaluator and the sampler read everything head-specific from it. ``hp`` is
the head's own parameters, the model's ``head.*`` entries with the ``head.`` prefix taken off (the
full softmax: ``W``, ``b``; the adaptive softmax: ``adaptive.*``). Shape letters: N rows (T * B
tokens), H the top layer's width, V the vocabulary.
"""

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Head:
    name: str
    param_shapes: Callable  # (H, V, cutoffs) -> {local name: shape}
    init: Callable  # (H, V, cutoffs, rng, scale) -> {local name: float64 array}
    loss: Callable  # (hp, X (N, H), targets (N,), grads=None, prefix="") -> (mean nll, dX (N, H))
    nll: Callable  # (hp, X, targets) -> (N,) -log p(target), normalized over all V, no gradient
    logits: Callable  # (hp, X) -> (N, V) logits whose softmax is the head's distribution
    logits_backward: Callable  # (hp, X, dlogits (N, V), grads=None, prefix="") -> dX (N, H)
