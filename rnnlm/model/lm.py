"""The language model: embedding -> L recurrent layers -> linear -> softmax cross-entropy.

Dropout (inverted) sits on the embedding output, between layers and before the head: every
non-recurrent connection, never on the recurrent path. The state is a tuple with one entry per
layer, each the cell's own tuple ``(h,)`` or ``(h, c)``. Parameter names: params.py.

The backward pass is the forward read in reverse: head, then each layer from the top down, then
the embedding; every piece adds its gradients into one grads dict.
"""

from typing import NamedTuple

from rnnlm.backend import array_module, to_device, to_host
from rnnlm.nn.cells import get_cell
from rnnlm.nn.heads import cross_entropy, softmax_cross_entropy
from rnnlm.nn.layers import (dropout_backward, dropout_forward, embedding_backward,
                             embedding_forward, linear_backward, linear_forward)

from .params import layer_params


class LMCache(NamedTuple):
    embed: tuple  # the embedding's cache
    drops: list  # L + 1 dropout masks (None when off): embedding output, then each layer's output
    layers: list  # L cell caches
    head: tuple  # the output layer's cache
    T: int
    B: int


def forward(params, spec, x, state, rng=None, train=False):
    """x (B, T) int token ids, state from the previous window.

    Returns logits (T, B, V), the state after the last step, and the cache for backward.
    Time-major inside: each step of the recurrence is one contiguous (B, ·) block. x and state
    may come from the host: they go to the parameters' device here, one window at a time.
    """
    cell = get_cell(spec.cell)
    xp = array_module(params["embed.W"])
    x = to_device(x, xp)
    state = tuple(tuple(to_device(s, xp) for s in layer) for layer in state)
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
    logits, head_cache = linear_forward(h.reshape(T * B, H), params["head.W"], params["head.b"])
    cache = LMCache(emb_cache, drops, layer_caches, head_cache, T, B)
    return logits.reshape(T, B, -1), tuple(new_state), cache


def backward(params, spec, dlogits, cache, dstate=None, param_grads=True, grads=None):
    """BPTT through one window: dlogits (T, B, V) -> grads dict, step norms (L, T), dstate_in.

    ``dstate`` is the gradient arriving at the window's final state (None: zero, as in truncated
    BPTT). ``step_norms[l, t]`` = ‖∂L/∂s_t‖ of layer l, one host array made once per window.
    Gradients are added into ``grads`` (a new dict when None). With ``param_grads=False`` only
    the gradient flow is wanted (the probe): no weight product is computed and grads is empty.
    """
    cell = get_cell(spec.cell)
    T, B = cache.T, cache.B
    xp = array_module(dlogits)
    V = dlogits.shape[-1]
    if grads is None:
        grads = {}
    into = grads if param_grads else None
    dh = linear_backward(dlogits.reshape(T * B, V), cache.head, into, ("head.W", "head.b"))
    dh = dh.reshape(T, B, -1)
    norms = [None] * spec.layers
    dstate_in = [None] * spec.layers
    for l in range(spec.layers - 1, -1, -1):
        dh = dropout_backward(dh, cache.drops[l + 1])
        d_out = dstate[l] if dstate is not None else tuple(
            xp.zeros((B, spec.hidden_size), dh.dtype) for _ in cell.state)
        dh, dstate_in[l], norms[l] = cell.backward(layer_params(params, l), dh, d_out,
                                                   cache.layers[l], into, f"rnn.{l}.")
    if param_grads:
        embedding_backward(dropout_backward(dh, cache.drops[0]), cache.embed, grads, "embed.W")
    step_norms = xp.stack(norms) if norms else xp.empty((0, T))
    return grads, to_host(step_norms), tuple(dstate_in)  # the window's one host transfer


def loss_and_grads(params, spec, x, y, state, rng=None, train=True):
    """One window's mean loss, its gradients, the carried state and per-step gradient norms.

    x, y (B, T) with y the next token of x. Returns (loss, grads, new_state, step_norms (L, T)).
    """
    logits, new_state, cache = forward(params, spec, x, state, rng, train)
    T, B, V = logits.shape
    y = to_device(y, array_module(logits))
    loss, dlogits = softmax_cross_entropy(logits.reshape(T * B, V), y.T.reshape(T * B))
    grads, norms, _ = backward(params, spec, dlogits.reshape(T, B, V), cache)
    return loss, grads, new_state, norms


def evaluate_loss(params, spec, x, y, state):
    """Mean loss of one window without gradients; returns (loss, new_state)."""
    logits, new_state, _ = forward(params, spec, x, state)
    T, B, V = logits.shape
    y = to_device(y, array_module(logits))
    return cross_entropy(logits.reshape(T * B, V), y.T.reshape(T * B)), new_state
