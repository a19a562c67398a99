"""The language model: embedding -> L recurrent layers -> an output head (model.head).

Dropout (inverted) sits on the embedding output, between layers and before the head: every
non-recurrent connection, never on the recurrent path. The state is a tuple with one entry per
layer, each the cell's own tuple ``(h,)`` or ``(h, c)``. Parameter names: params.py.

Two ways through the head, one set of parameters:

    training, evaluation   forward_hidden -> head.loss / head.nll on the targets -> backward_hidden
                           (the head never builds more than it needs: the adaptive head no (N, V))
    logits                 forward -> (T, B, V) logits whose softmax is the model's distribution
                           (for the full head X W + b, for the adaptive head the log-probabilities);
                           backward takes their gradient. Sampling, the probe, the tests.

The backward pass is the forward read in reverse: head, then each layer from the top down, then
the embedding; every piece adds its gradients into one grads dict.
"""

from typing import NamedTuple

from rnnlm.backend import array_module, to_host
from rnnlm.nn.cells import get_cell
from rnnlm.nn.heads import get_head, head_params
from rnnlm.nn.layers import (dropout_backward, dropout_forward, embedding_backward,
                             embedding_forward)

from .params import layer_params, zero_state


class LMCache(NamedTuple):
    embed: tuple  # the embedding's cache
    drops: list  # L + 1 dropout masks (None when off): embedding output, then each layer's output
    layers: list  # L cell caches
    top: object  # (T * B, H) the head's input (the top layer's output after dropout)
    T: int
    B: int


def forward_hidden(params, spec, x, state, rng=None, train=False):
    """x (B, T) int token ids, state from the previous window.

    Returns the head's input (T * B, H), the state after the last step and the cache. Time-major
    inside: each step of the recurrence is one contiguous (B, ·) block; row t * B + b is (t, b).
    """
    cell = get_cell(spec.cell)
    emb, emb_cache = embedding_forward(params["embed.W"], x.T)  # (T, B, D)
    h, drop = dropout_forward(emb, spec.dropout, rng, train)
    layer_caches, drops, new_state = [], [drop], []
    for l in range(spec.layers):
        h, st, c = cell.forward(layer_params(params, l), h, state[l])  # (T, B, H)
        h, drop = dropout_forward(h, spec.dropout, rng, train)
        layer_caches.append(c)
        drops.append(drop)
        new_state.append(st)
    T, B, H = h.shape
    top = h.reshape(T * B, H)
    return top, tuple(new_state), LMCache(emb_cache, drops, layer_caches, top, T, B)


def backward_hidden(params, spec, dtop, cache, dstate=None, param_grads=True, grads=None,
                    overwrite=False):
    """BPTT from the gradient at the head's input dtop (T * B, H): grads, step norms, dstate_in.

    ``dstate`` is the gradient arriving at the window's final state (None: zero, as in truncated
    BPTT). ``step_norms[l, t]`` = ‖∂L/∂s_t‖ of layer l, one host array made once per window.
    Gradients are added into ``grads`` (a new dict when None). With ``param_grads=False`` only
    the gradient flow is wanted (the probe): no weight product is computed. ``overwrite=True``
    lets the cells write their gradients over the cache (it is spent: the training step's memory
    saving; the probe reads the activations after its backward and leaves it False).
    """
    cell = get_cell(spec.cell)
    T, B = cache.T, cache.B
    xp = array_module(dtop)
    grads = {} if grads is None else grads
    into = grads if param_grads else None
    dh = dtop.reshape(T, B, -1)
    norms = [None] * spec.layers
    dstate_in = [None] * spec.layers
    for l in range(spec.layers - 1, -1, -1):
        dh = dropout_backward(dh, cache.drops[l + 1])
        d_out = dstate[l] if dstate is not None else tuple(
            xp.zeros((B, spec.hidden_size), dh.dtype) for _ in cell.state)
        dh, dstate_in[l], norms[l] = cell.backward(layer_params(params, l), dh, d_out,
                                                   cache.layers[l], into, f"rnn.{l}.",
                                                   overwrite)
    if param_grads:
        embedding_backward(dropout_backward(dh, cache.drops[0]), cache.embed, grads, "embed.W")
    step_norms = xp.stack(norms) if norms else xp.empty((0, T))
    return grads, to_host(step_norms), tuple(dstate_in)  # the window's one host transfer


def forward(params, spec, x, state, rng=None, train=False):
    """Logits (T, B, V) whose softmax is the model's next-token distribution, the state after the
    last step, and the cache for ``backward``."""
    top, new_state, cache = forward_hidden(params, spec, x, state, rng, train)
    logits = get_head(spec.head).logits(head_params(params), top)  # (T * B, V)
    return logits.reshape(cache.T, cache.B, -1), new_state, cache


def backward(params, spec, dlogits, cache, dstate=None, param_grads=True, grads=None):
    """BPTT from the gradient at ``forward``'s logits (T, B, V): grads, step norms (L, T),
    dstate_in (see backward_hidden)."""
    grads = {} if grads is None else grads
    N = cache.T * cache.B
    dtop = get_head(spec.head).logits_backward(head_params(params), cache.top,
                                               dlogits.reshape(N, -1),
                                               grads if param_grads else None, "head.")
    return backward_hidden(params, spec, dtop, cache, dstate, param_grads, grads)


def head_loss(params, spec, top, y, grads=None):
    """Mean loss of targets y (B, T) at the head's input top (T * B, H), and dtop; adds the head's
    gradients into grads (None: no parameter gradients)."""
    return get_head(spec.head).loss(head_params(params), top, y.T.reshape(-1),
                                    grads, "head.")


def loss_and_grads(params, spec, x, y, state, rng=None, train=True):
    """One window's mean loss, its gradients, the carried state and per-step gradient norms.

    x, y (B, T) with y the next token of x. Returns (loss, grads, new_state, step_norms (L, T)).
    """
    top, new_state, cache = forward_hidden(params, spec, x, state, rng, train)
    grads = {}
    loss, dtop = head_loss(params, spec, top, y, grads)
    _, norms, _ = backward_hidden(params, spec, dtop, cache, grads=grads, overwrite=True)
    return loss, grads, new_state, norms


def token_nll(params, spec, x, y, state):
    """-log p(y) of every token (B, T), normalized over the whole vocabulary, and the new state."""
    top, new_state, cache = forward_hidden(params, spec, x, state)
    nll = get_head(spec.head).nll(head_params(params), top, y.T.reshape(-1))  # (T * B,)
    return nll.reshape(cache.T, cache.B).T, new_state


def evaluate_loss(params, spec, x, y, state):
    """Mean loss of one window without gradients; returns (loss, new_state)."""
    nll, new_state = token_nll(params, spec, x, y, state)
    return float(nll.mean()), new_state


def next_logits(params, spec, x, state):
    """Logits (B, V) of the token after the last of x (B, T) only, and the new state: what
    sampling needs, without the head's work on the other T - 1 positions."""
    top, new_state, cache = forward_hidden(params, spec, x, state)
    last = top[(cache.T - 1) * cache.B:]  # (B, H) the last time step's rows
    return get_head(spec.head).logits(head_params(params), last), new_state
