"""The language model: embedding -> L recurrent layers -> an output head (model.head).

Dropout (inverted) sits on the embedding output, between layers and before the head: every
non-recurrent connection, never on the recurrent path (rates: spec.rate). The state is a tuple
with one entry per layer, each the cell's own tuple ``(h,)`` or ``(h, c)``. Parameter names:
params.py.

The regularisers of training (train=True; all off by default, see ModelSpec):
    dropout masks      (T, B, F) each, or (1, B, F) with dropout_locked (the same at every step)
    dropout_words      a keep mask over embed.W's V rows: a dropped word reads zeros everywhere
    weight_drop        a keep mask over each layer's W_h (H, kH): the cell sees W_h ⊙ mask, and
                       the raw W_h gets the cell's gradient ⊙ mask
    tie_weights        no head.W: the head reads embed.Wᵀ and adds its gradient into embed.W
    ar, tar            penalties on the last layer's output (cache.penalty); backward adds their
                       gradient, so the gradient is that of cross-entropy + penalty
Every mask is drawn once per window (draw_masks, in a fixed order from the run's generator) and
can be handed in, so a gradient check and the k1/k2 mode's state advance see the same masks.

Two ways through the head, one set of parameters:

    training, evaluation   forward_hidden -> the head's loss / nll on the targets -> backward_hidden
                           (the head builds no more than it needs: the full softmax one (N, V)
                           buffer, the adaptive softmax none)
    logits                 forward -> (T, B, V) logits whose softmax is the model's distribution;
                           backward takes their gradient: the probe, the k1/k2 mode's weighted
                           loss, tied weights, the tests
    sampling               next_logits: the head on the last position only

The backward pass is the forward read in reverse: head, then each layer from the top down, then
the embedding; every piece adds its gradients into one grads dict.
"""

from typing import NamedTuple

from rnnlm.backend import array_module, to_device, to_host
from rnnlm.nn.cells import get_cell
from rnnlm.nn.functional import Grads, add_grad
from rnnlm.nn.heads import get_head, head_params
from rnnlm.nn.heads.softmax import nll_
from rnnlm.nn.layers import (Lookup, TableGrad, dropout_backward, embedding_backward,
                             embedding_forward, masked_forward, tied_linear_backward,
                             tied_linear_forward)
from rnnlm.nn.regularisers import (ar_backward, ar_forward, tar_backward, tar_forward,
                                   weight_drop_backward, weight_drop_forward, word_dropout_forward)

from .masks import Masks, draw_masks
from .params import layer_params


# The embedding folds into the first layer (layers.Lookup: the (V, D) @ (D, kH) table instead of
# the window's (T·B, D) @ (D, kH) products) when V · FOLD_RATIO ≤ T · B and no dropout sits
# between them. The gather and the scatter of the table's rows cost about a product's memory
# traffic, so the vocabulary must be well below the window: char models, not word models.
FOLD_RATIO = 4


def embedding_folds(vocab_size, tokens):
    """Whether a window of ``tokens`` (T · B) folds the embedding into the first layer (when no
    dropout sits between them)."""
    return vocab_size * FOLD_RATIO <= tokens


class LMCache(NamedTuple):
    embed: tuple  # the embedding's cache (None when it folded into the first layer)
    drops: list  # L + 1 dropout masks (None when off): embedding output, then each layer's output
    layers: list  # L cell caches
    head: object  # the head's cache (its input top (T * B, H); tied: (top, embed.W)); None
    #               after forward_hidden, which stops before the head
    T: int
    B: int
    words: object = None  # (T, B, 1) per-token scale of word dropout, None when off
    weights: list = None  # L (W_h ⊙ mask, mask) of weight-drop, None per layer when off
    penalty: float = 0.0  # AR + TAR of this window (0 when off or not training)
    ar: tuple = None  # AR's cache
    tar: tuple = None  # TAR's cache


def _body(params, spec, x, state, masks):
    """Embedding and the L layers (masks None: no regulariser). x (B, T) on the device.
    Returns the last layer's output after and before its dropout (T, B, H), the state after the
    last step, and the pieces of the cache."""
    cell = get_cell(spec.cell)
    m = masks or Masks(None, None, [None] * spec.layers, [None] * spec.layers)
    E = params["embed.W"]
    words = None
    if m.words is None and m.embed is None and embedding_folds(E.shape[0], x.size):
        # the first layer multiplies E itself and gathers rows (layers.Lookup)
        h, emb_cache, drop = Lookup(array_module(E).ascontiguousarray(x.T), E), None, None
    else:
        emb, emb_cache = embedding_forward(E, x.T)  # (T, B, D)
        if m.words is not None:
            emb, words = word_dropout_forward(emb, x.T, m.words)
        h, drop = masked_forward(emb, m.embed)
    layer_caches, drops, new_state, weights = [], [drop], [], []
    raw = h
    for l in range(spec.layers):
        p = layer_params(params, l)
        wd = None
        if m.weights[l] is not None:
            dropped, keep = weight_drop_forward(p["W_h"], m.weights[l])
            p, wd = dict(p, W_h=dropped), (dropped, keep)
        raw, st, c = cell.forward(p, h, state[l])  # (T, B, H)
        h, drop = masked_forward(raw, m.layers[l])
        layer_caches.append(c)
        drops.append(drop)
        new_state.append(st)
        weights.append(wd)
    return h, raw, tuple(new_state), (emb_cache, words, drops, layer_caches, weights)


def _head_forward(params, spec, top):
    """top (N, H) -> logits (N, V) and the head's cache; tied: embed.Wᵀ is the weight."""
    if spec.tie_weights:
        return tied_linear_forward(top, params["embed.W"], params["head.b"])
    return get_head(spec.head).logits(head_params(params), top), top


def _head_backward(params, spec, dlogits, cache, grads):
    """dtop (N, H) from dlogits (N, V); adds the head's gradients into grads (None: none)."""
    if spec.tie_weights:
        return tied_linear_backward(dlogits, cache, grads, ("embed.W", "head.b"))
    return get_head(spec.head).logits_backward(head_params(params), cache, dlogits, grads, "head.")


def forward_hidden(params, spec, x, state, rng=None, train=False, masks=None):
    """x (B, T) int token ids, state from the previous window -> the head's input top (T * B, H),
    the state after the last step, and the cache for backward_hidden (its head field None).

    Time-major inside: each step of the recurrence is one contiguous (B, ·) block; row t * B + b
    of top is (t, b). x and state may come from the host: they go to the parameters' device here,
    one window at a time. train=True draws this window's masks from `rng` (or uses `masks`, from
    draw_masks) and computes the AR/TAR penalty into cache.penalty.
    """
    xp = array_module(params["embed.W"])
    x = to_device(x, xp)
    state = tuple(tuple(to_device(s, xp) for s in layer) for layer in state)
    if train and masks is None:
        masks = draw_masks(spec, x.shape[1], x.shape[0], rng, params["embed.W"].dtype)
    h, raw, new_state, (emb_cache, words, drops, layer_caches, weights) = \
        _body(params, spec, x, state, masks if train else None)
    T, B, H = h.shape
    penalty, ar, tar = 0.0, None, None
    if train and spec.ar > 0:
        value, ar = ar_forward(h, spec.ar)
        penalty += value
    if train and spec.tar > 0:
        value, tar = tar_forward(raw, spec.tar)
        penalty += value
    cache = LMCache(emb_cache, drops, layer_caches, None, T, B, words, weights, penalty, ar, tar)
    return h.reshape(T * B, H), new_state, cache


def forward(params, spec, x, state, rng=None, train=False, masks=None):
    """Logits (T, B, V) whose softmax is the model's next-token distribution, the state after the
    last step, and the cache for backward (arguments as forward_hidden)."""
    top, new_state, cache = forward_hidden(params, spec, x, state, rng, train, masks)
    logits, head_cache = _head_forward(params, spec, top)
    return logits.reshape(cache.T, cache.B, -1), new_state, cache._replace(head=head_cache)


def advance(params, spec, x, state, masks=None):
    """The state after running x (B, t) from `state` with the given masks, and nothing else (no
    head, no cache kept): how the k1/k2 mode carries its state k1 steps into a window."""
    xp = array_module(params["embed.W"])
    if x.shape[1] == 0:
        return state
    x = to_device(x, xp)
    state = tuple(tuple(to_device(s, xp) for s in layer) for layer in state)
    return _body(params, spec, x, state, masks)[2]


def backward(params, spec, dlogits, cache, dstate=None, param_grads=True, grads=None):
    """BPTT through one window from the gradient at forward's logits (T, B, V): grads dict, step
    norms (L, T), dstate_in (see backward_hidden)."""
    grads = Grads() if grads is None else grads
    N = cache.T * cache.B
    dtop = _head_backward(params, spec, dlogits.reshape(N, -1), cache.head,
                          grads if param_grads else None)
    return backward_hidden(params, spec, dtop, cache, dstate, param_grads, grads)


def backward_hidden(params, spec, dtop, cache, dstate=None, param_grads=True, grads=None,
                    overwrite=False):
    """BPTT through one window from the gradient at the head's input dtop (T * B, H): grads dict,
    step norms (L, T), dstate_in.

    ``dstate`` is the gradient arriving at the window's final state (None: zero, as in truncated
    BPTT). ``step_norms[l, t]`` = ‖∂L/∂s_t‖ of layer l, one host array made once per window.
    Gradients are added into ``grads`` (a new dict when None). With ``param_grads=False`` only
    the gradient flow is wanted (the probe): no weight product is computed and grads is empty.
    The AR/TAR penalties of a training forward add their gradients on the way. ``overwrite=True``
    lets the cells write their gradients over the cache, which is spent (the training step's
    memory saving; the probe reads the activations after its backward and leaves it False).
    ``dtop`` may come as a one-element list that is emptied here: the caller then keeps no
    reference, and the (T * B, H) buffer is freed once the top layer is through with it (config
    d-rnn: 4 MiB off the step's peak, held during every lower layer's backward).
    """
    cell = get_cell(spec.cell)
    T, B = cache.T, cache.B
    if isinstance(dtop, list):
        dtop = dtop.pop()
    xp = array_module(dtop)
    if grads is None:
        grads = Grads()
    into = grads if param_grads else None
    dh = dtop.reshape(T, B, -1)
    del dtop  # dh is the only reference now
    if cache.ar is not None:
        dh += ar_backward(cache.ar)  # AR acts on the dropped output
    norms = [None] * spec.layers
    dstate_in = [None] * spec.layers
    for l in range(spec.layers - 1, -1, -1):
        dh = dropout_backward(dh, cache.drops[l + 1])
        if l == spec.layers - 1 and cache.tar is not None:
            dtar = tar_backward(cache.tar)  # TAR acts on the output before its dropout
            if dtar is not None:
                dh = dh + dtar
        d_out = dstate[l] if dstate is not None else tuple(
            xp.zeros((B, spec.hidden_size), dh.dtype) for _ in cell.state)
        p, wd = layer_params(params, l), (cache.weights[l] if cache.weights else None)
        if wd is None:
            dh, dstate_in[l], norms[l] = cell.backward(p, dh, d_out, cache.layers[l], into,
                                                       f"rnn.{l}.", overwrite)
            continue
        local = {} if into is not None else None  # the cell's gradients at W_h ⊙ mask
        dh, dstate_in[l], norms[l] = cell.backward(dict(p, W_h=wd[0]), dh, d_out,
                                                   cache.layers[l], local, f"rnn.{l}.", overwrite)
        for name, g in (local or {}).items():
            add_grad(grads, name, weight_drop_backward(g, wd[1]) if name.endswith(".W_h") else g)
    if param_grads and isinstance(dh, TableGrad):  # the first layer read a Lookup
        add_grad(grads, "embed.W", dh.dE)
    elif param_grads:
        dh = dropout_backward(dh, cache.drops[0])
        embedding_backward(dropout_backward(dh, cache.words), cache.embed, grads, "embed.W")
    step_norms = xp.stack(norms) if norms else xp.empty((0, T))
    return grads, to_host(step_norms), tuple(dstate_in)  # the window's one host transfer


def head_loss(params, spec, top, y, grads=None):
    """Mean loss of targets y (B, T) at the head's input top (T * B, H), and dtop; adds the head's
    gradients into grads (None: no parameter gradients). Not for tied weights (see forward)."""
    return get_head(spec.head).loss(head_params(params), top, y.T.reshape(-1), grads, "head.")


def token_nll(params, spec, x, y, state):
    """-log p(y) of every token (B, T), normalized over the whole vocabulary, and the new state."""
    top, new_state, cache = forward_hidden(params, spec, x, state)
    targets = to_device(y, array_module(top)).T.reshape(-1)
    if spec.tie_weights:
        nll = nll_(_head_forward(params, spec, top)[0], targets)
    else:
        nll = get_head(spec.head).nll(head_params(params), top, targets)  # (T * B,)
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
    return _head_forward(params, spec, last)[0], new_state


def step_logits(params, spec, tokens, state, layers=None):
    """One token per row through the model with no cache, sampling's inner loop: tokens (B,) ->
    logits (B, V) of the next token and the new state. The same function as next_logits on a
    window of one token (tested), at a fraction of its cost when T = 1 (Cell.step). ``layers``:
    the per-layer parameter views (layer_params), when the caller keeps them between steps."""
    xp = array_module(params["embed.W"])
    cell = get_cell(spec.cell)
    h = params["embed.W"][to_device(tokens, xp)]  # (B, D)
    new_state = []
    for l in range(spec.layers):
        p = layers[l] if layers is not None else layer_params(params, l)
        st = cell.step(p, h, tuple(to_device(s, xp) for s in state[l]))
        new_state.append(st)
        h = st[0]  # (B, H)
    return _head_forward(params, spec, h)[0], tuple(new_state)

