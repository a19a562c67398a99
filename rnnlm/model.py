"""The language model: embedding -> L recurrent layers -> linear -> softmax cross-entropy.

Parameters and gradients are one flat dict with dotted names:

    embed.W       (V, D)
    rnn.{l}.W_x   (D_in, kH)    D_in = D for layer 0, H above
    rnn.{l}.W_h   (H, kH)
    rnn.{l}.b     (kH,)
    rnn.{l}.b_hn  (H,)          GRU only
    head.W        (H, V)
    head.b        (V,)

Dropout (inverted) sits on the embedding output, between layers and before the head: every
non-recurrent connection, never on the recurrent path. The state is a tuple with one entry per
layer, each the cell's own tuple ``(h,)`` or ``(h, c)``.

The backward pass is the forward read in reverse: head, then each layer from the top down, then
the embedding.
"""

from dataclasses import dataclass

import numpy as np

from . import cells
from .layers import (cross_entropy, dropout_backward, dropout_forward, embedding_backward,
                     embedding_forward, linear_backward, linear_forward, softmax_cross_entropy)


@dataclass(frozen=True)
class ModelSpec:
    """The architecture: all the math needs to know."""

    cell: str
    vocab_size: int
    embed_size: int
    hidden_size: int
    layers: int
    dropout: float = 0.0


def param_shapes(spec):
    """{name: shape} of every parameter, in the layout of the module docstring; no allocation."""
    V, D, H, k = spec.vocab_size, spec.embed_size, spec.hidden_size, cells.GATES[spec.cell]
    shapes = {"embed.W": (V, D)}
    for l in range(spec.layers):
        shapes[f"rnn.{l}.W_x"] = (D if l == 0 else H, k * H)
        shapes[f"rnn.{l}.W_h"] = (H, k * H)
        shapes[f"rnn.{l}.b"] = (k * H,)
        if spec.cell == "gru":
            shapes[f"rnn.{l}.b_hn"] = (H,)
    shapes["head.W"] = (H, V)
    shapes["head.b"] = (V,)
    return shapes


def init_params(spec, rng, dtype=np.float32, init_scale=0.0, recurrent_init="orthogonal",
                recurrent_gain=1.0, forget_bias=1.0):
    V, D, H = spec.vocab_size, spec.embed_size, spec.hidden_size
    s = init_scale if init_scale > 0 else 1.0 / np.sqrt(H)
    # Embeddings ~ N(0, 1), like a one-hot input seen through a random projection: inputs of
    # unit size, so the first layer's gates are not all stuck near their midpoint at the start.
    params = {"embed.W": rng.standard_normal((V, D)).astype(dtype)}
    for l in range(spec.layers):
        layer = cells.init_params(spec.cell, D if l == 0 else H, H, rng, dtype, init_scale,
                                  recurrent_init, recurrent_gain, forget_bias)
        params.update({f"rnn.{l}.{k}": v for k, v in layer.items()})
    params["head.W"] = rng.uniform(-s, s, (H, V)).astype(dtype)
    params["head.b"] = np.zeros(V, dtype)
    return params


def layer_params(params, l):
    """The cell-local view {'W_x': ..., 'W_h': ..., 'b': ...} of layer l."""
    prefix = f"rnn.{l}."
    return {k[len(prefix):]: v for k, v in params.items() if k.startswith(prefix)}


def zero_state(spec, batch_size, dtype=np.float32):
    return tuple(cells.zero_state(spec.cell, batch_size, spec.hidden_size, dtype)
                 for _ in range(spec.layers))


def forward(params, spec, x, state, rng=None, train=False):
    """x (B, T) int token ids, state from the previous window.

    Returns logits (T, B, V), the state after the last step, and the cache for backward.
    Time-major inside: each step of the recurrence is one contiguous (B, ·) block.
    """
    emb, emb_cache = embedding_forward(params["embed.W"], x.T)  # (T, B, D)
    h, drop = dropout_forward(emb, spec.dropout, rng, train)
    layer_caches, drops, new_state = [], [drop], []
    for l in range(spec.layers):
        h, st, c = cells.forward(spec.cell, layer_params(params, l), h, state[l])  # (T, B, H)
        h, drop = dropout_forward(h, spec.dropout, rng, train)
        layer_caches.append(c)
        drops.append(drop)
        new_state.append(st)
    T, B, H = h.shape
    logits, head_cache = linear_forward(h.reshape(T * B, H), params["head.W"], params["head.b"])
    cache = (emb_cache, drops, layer_caches, head_cache, (T, B))
    return logits.reshape(T, B, -1), tuple(new_state), cache


def backward(params, spec, dlogits, cache, dstate=None, param_grads=True):
    """BPTT through one window: dlogits (T, B, V) -> grads dict, step norms (L, T), dstate_in.

    ``dstate`` is the gradient arriving at the window's final state (None: zero, as in truncated
    BPTT). ``step_norms[l, t]`` = ‖∂L/∂h_t‖ of layer l. With ``param_grads=False`` only the
    gradient flow is wanted (the probe): no weight product is computed and grads is empty.
    """
    emb_cache, drops, layer_caches, head_cache, (T, B) = cache
    V = dlogits.shape[-1]
    if param_grads:
        dh, dW, db = linear_backward(dlogits.reshape(T * B, V), head_cache)
        grads = {"head.W": dW, "head.b": db}
    else:
        dh, grads = dlogits.reshape(T * B, V) @ params["head.W"].T, {}
    dh = dh.reshape(T, B, -1)
    norms = np.empty((spec.layers, T))
    dstate_in = [None] * spec.layers
    for l in range(spec.layers - 1, -1, -1):
        dh = dropout_backward(dh, drops[l + 1])
        p = layer_params(params, l)
        d_out = dstate[l] if dstate is not None else cells.zero_state(spec.cell, B, spec.hidden_size,
                                                                       dh.dtype)
        dh, dstate_in[l], g, norms[l] = cells.backward(spec.cell, p, dh, d_out, layer_caches[l],
                                                       param_grads)
        grads.update({f"rnn.{l}.{k}": v for k, v in g.items()})
    if param_grads:
        demb = dropout_backward(dh, drops[0])
        grads["embed.W"] = embedding_backward(demb, emb_cache)
    return grads, norms, tuple(dstate_in)


def loss_and_grads(params, spec, x, y, state, rng=None, train=True):
    """One window's mean loss, its gradients, the carried state and per-step gradient norms.

    x, y (B, T) with y the next token of x. Returns (loss, grads, new_state, step_norms (L, T)).
    """
    logits, new_state, cache = forward(params, spec, x, state, rng, train)
    T, B, V = logits.shape
    loss, dlogits = softmax_cross_entropy(logits.reshape(T * B, V), y.T.reshape(T * B))
    grads, norms, _ = backward(params, spec, dlogits.reshape(T, B, V), cache)
    return loss, grads, new_state, norms


def evaluate_loss(params, spec, x, y, state):
    """Mean loss of one window without gradients; returns (loss, new_state)."""
    logits, new_state, _ = forward(params, spec, x, state)
    T, B, V = logits.shape
    return cross_entropy(logits.reshape(T * B, V), y.T.reshape(T * B)), new_state
