"""One training window: forward, the loss of the positions that count, backward, and the state
carried to the next window (the k1/k2 mode carries it from k1 steps in)."""

from typing import NamedTuple

from rnnlm.backend import array_module, to_device
from rnnlm.nn.functional import Grads
from rnnlm.nn.heads import softmax_cross_entropy

from .lm import advance, backward, backward_hidden, forward, forward_hidden, head_loss
from .masks import draw_masks


class WindowResult(NamedTuple):
    loss: float  # mean cross-entropy of the positions that count, nats/token
    penalty: float  # AR + TAR (0 when off); the gradient is that of loss + penalty
    grads: dict
    state: tuple  # the state carried to the next window
    step_norms: object  # (L, T) host array


def window_loss_and_grads(params, spec, x, y, state, rng=None, train=True, loss_from=0,
                          carry=None):
    """One training window: forward, loss, backward, the state to carry.

    x, y (B, T). The loss is the mean cross-entropy of positions loss_from..T-1 (the k1/k2 mode
    counts only the window's last k1 positions; the earlier ones carry gradient back). The state
    returned is the one after `carry` steps (None: after all T, as in fixed truncated BPTT),
    run again with the window's own masks and the parameters of this forward.
    """
    masks = None
    if train:
        masks = draw_masks(spec, x.shape[1], x.shape[0], rng, params["embed.W"].dtype)
    if loss_from or spec.tie_weights:  # a weighted loss, or the tied output layer: via logits
        logits, new_state, cache = forward(params, spec, x, state, rng, train, masks)
        T, B, V = logits.shape
        xp = array_module(logits)
        y = to_device(y, xp)
        weights = loss_weights(T, B, loss_from, xp, logits.dtype)
        loss, dlogits = softmax_cross_entropy(logits.reshape(T * B, V), y.T.reshape(T * B), weights)
        grads, norms, _ = backward(params, spec, dlogits.reshape(T, B, V), cache)
    else:  # the head's own loss: no logits buffer beyond what it needs, the cache overwritten
        top, new_state, cache = forward_hidden(params, spec, x, state, rng, train, masks)
        grads = Grads()
        loss, dtop = head_loss(params, spec, top, to_device(y, array_module(top)), grads)
        handed = [dtop]  # backward_hidden takes the only reference: freed after the top layer
        del dtop
        grads, norms, _ = backward_hidden(params, spec, handed, cache, grads=grads, overwrite=True)
    if carry is not None and carry != T:
        new_state = advance(params, spec, x[:, :carry], state,
                            masks.window(0, carry) if masks is not None else None)
    return WindowResult(loss, cache.penalty, grads, new_state, norms)


def loss_weights(T, B, loss_from, xp, dtype):
    """Row weights (T*B,) for softmax_cross_entropy that make its mean the mean over positions
    loss_from..T-1 only (time-major rows: row t*B + b); None when every position counts."""
    if not loss_from:
        return None
    weights = xp.zeros(T * B, dtype)
    weights[loss_from * B:] = T / (T - loss_from)  # the mean divides by T*B rows
    return weights


def loss_and_grads(params, spec, x, y, state, rng=None, train=True):
    """One window's mean loss, its gradients, the carried state and per-step gradient norms.

    x, y (B, T) with y the next token of x. Returns (loss, grads, new_state, step_norms (L, T)).
    The loss is the cross-entropy alone; with AR/TAR on, the gradients include the penalty
    (window_loss_and_grads returns both).
    """
    r = window_loss_and_grads(params, spec, x, y, state, rng, train)
    return r.loss, r.grads, r.state, r.step_norms
