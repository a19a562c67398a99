"""Finite-difference gradient checks in float64, used by the tests and by `rnnlm gradcheck`.

Every parameter's analytic gradient, and the gradient with respect to a non-zero carried initial
state, is compared with central differences (f(θ+ε) - f(θ-ε)) / 2ε, element by element. The
error of a whole tensor is ‖analytic - numeric‖ / max(‖analytic‖ + ‖numeric‖, tiny).

ε = 1e-4: in float64 the truncation error (∝ ε²) is then ~1e-9 relative, while at ε = 1e-6 the
rounding error of the loss (~1e-16 / ε) already reaches ~1e-7 on the smallest gradients (measured:
LSTM worst error 1e-8 at ε = 1e-4, 9e-7 at ε = 1e-6).
"""

import dataclasses

import numpy as np

from rnnlm.nn.cells import get_cell

from rnnlm.nn.heads import softmax_cross_entropy

from . import lm
from .params import init_params, zero_state
from .window import loss_weights
from .spec import InitSpec

TOLERANCE = 1e-6


def relative_error(a, b):
    num = np.linalg.norm(a - b)
    den = max(np.linalg.norm(a) + np.linalg.norm(b), 1e-300)
    return float(num / den)


def numeric_grad(f, x, eps=1e-4):
    """Central differences of the scalar f() with respect to every element of x (in place)."""
    g = np.zeros_like(x)
    flat, gflat = x.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        plus = f()
        flat[i] = old - eps
        minus = f()
        flat[i] = old
        gflat[i] = (plus - minus) / (2 * eps)
    return g


def small_spec(spec, vocab_size=11, embed_size=4, hidden_size=5):
    """A small copy of an architecture: every field kept (cell, layers, dropout, regularisers,
    head, ...) but the sizes; with tied weights D = H (the head reads embed.Wᵀ); the adaptive
    head's cutoffs become a head and two tail clusters of the small V."""
    if spec.tie_weights:
        embed_size = hidden_size
    cutoffs = (vocab_size // 3, 2 * vocab_size // 3) if spec.head == "adaptive" else ()
    return dataclasses.replace(spec, vocab_size=vocab_size, embed_size=embed_size,
                               hidden_size=hidden_size, adaptive_cutoffs=cutoffs)


def _objective(params, spec, x, y, state, drop_seed, loss_from, path, grads=None):
    """What training minimises on one window: the mean cross-entropy of positions loss_from..T-1
    plus the AR/TAR penalty, with the masks of a generator seeded afresh (the same every call).
    With a grads dict, also its gradients (added there); returns (value, dstate or None).

    path "train" goes the way training goes (forward_hidden, the head's loss, backward_hidden);
    "logits" through the logits (forward, softmax cross-entropy on them, backward): the same
    function. A weighted loss (loss_from) and tied weights always go through the logits."""
    drop_rng = np.random.default_rng(drop_seed)
    if path == "logits" or loss_from or spec.tie_weights:
        logits, _, cache = lm.forward(params, spec, x, state, drop_rng, train=True)
        T, B, V = logits.shape
        weights = loss_weights(T, B, loss_from, np, logits.dtype)  # as training weighs them
        loss, dlogits = softmax_cross_entropy(logits.reshape(T * B, V), y.T.reshape(T * B), weights)
        if grads is None:
            return loss + cache.penalty, None
        return loss + cache.penalty, lm.backward(params, spec, dlogits.reshape(T, B, V), cache,
                                                 grads=grads)[2]
    top, _, cache = lm.forward_hidden(params, spec, x, state, drop_rng, train=True)
    loss, dtop = lm.head_loss(params, spec, top, y, grads)
    if grads is None:
        return loss + cache.penalty, None
    return loss + cache.penalty, lm.backward_hidden(params, spec, dtop, cache, grads=grads)[2]


def check_model(spec, batch_size=3, bptt=4, seed=0, eps=1e-4, init=None, loss_from=0,
                path="train"):
    """Gradient check of the whole model on one random window from a random non-zero state.

    ``init`` is the InitSpec of the parameters (default: InitSpec()). Every regulariser of the
    spec is on (dropout of each kind, locked or not, word dropout, weight-drop, tying, AR, TAR):
    masks come from a generator re-seeded for every evaluation, so each forward sees the same
    masks, and the checked function is cross-entropy + penalty. ``loss_from``: only positions
    loss_from..bptt-1 count (the k1/k2 mode's window); the variable mode is this at other bptt.
    ``path``: "train" (the training step's way through the head) or "logits" (see _objective).
    Returns {name: relative error} for every parameter and for every initial-state tensor
    (named ``state.{l}.h`` / ``state.{l}.c``).
    """
    rng = np.random.default_rng(seed)
    params = init_params(spec, rng, np.float64, init or InitSpec())
    for name, p in params.items():  # non-zero biases exercise more of the chain rule
        if name.rsplit(".", 1)[-1].startswith("b"):  # b, b_hn, the adaptive head's b0, b1, ...
            p += rng.uniform(-0.1, 0.1, p.shape)
    x = rng.integers(0, spec.vocab_size, (batch_size, bptt))
    y = rng.integers(0, spec.vocab_size, (batch_size, bptt))
    state = tuple(tuple(rng.uniform(-0.5, 0.5, s.shape) for s in layer)
                  for layer in zero_state(spec, batch_size, np.float64))
    if get_cell(spec.cell).relu:  # a ReLU state lives in [0, ∞)
        state = tuple(tuple(np.abs(s) for s in layer) for layer in state)
    drop_seed = seed + 1

    def loss():
        return _objective(params, spec, x, y, state, drop_seed, loss_from, path)[0]

    grads = {}
    _, dstate = _objective(params, spec, x, y, state, drop_seed, loss_from, path, grads)

    errors = {}
    for name, p in params.items():
        errors[name] = relative_error(grads[name], numeric_grad(loss, p, eps))
    for l, layer in enumerate(state):
        for s, ds, kind in zip(layer, dstate[l], get_cell(spec.cell).state):
            errors[f"state.{l}.{kind}"] = relative_error(ds, numeric_grad(loss, s, eps))
    return errors


# The windows `rnnlm gradcheck` checks in each BPTT mode: (T, loss_from) pairs. k1k2: a window
# of k2 = 5 steps whose last k1 = 2 positions count; variable: a short window, one of length 1
# (no pair for TAR) and a long one.
MODE_WINDOWS = {"fixed": [(4, 0)], "k1k2": [(5, 3)], "variable": [(2, 0), (1, 0), (7, 0)]}


def check_config(spec, init, bptt_mode="fixed"):
    """check_model over the windows of a BPTT mode; the worst error of each name over them.
    Returns (errors, a line saying which windows were checked)."""
    errors = {}
    for T, loss_from in MODE_WINDOWS[bptt_mode]:
        for name, err in check_model(spec, bptt=T, init=init, loss_from=loss_from).items():
            errors[name] = max(err, errors.get(name, 0.0))
    words = ", ".join(f"T={T}" + (f" (loss on the last {T - f})" if f else "")
                      for T, f in MODE_WINDOWS[bptt_mode])
    return errors, words
