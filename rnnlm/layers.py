"""The non-recurrent pieces: embedding, linear, dropout, softmax cross-entropy.

Each piece is a forward that returns ``(out, cache)`` and, right below it, the backward that takes
``(dout, cache)``. Backward functions return input gradients and write parameter gradients into a
``grads`` dict with ``+=``-free assignment (each parameter is used by exactly one piece).

Shape letters: N rows (= T * B tokens), V vocabulary, D embedding, H hidden.
"""

import numpy as np


# ---------------------------------------------------------------- embedding
def embedding_forward(W, ids):
    """Look up rows of W (V, D) for integer ids of any shape S; returns (S + (D,))."""
    out = W[ids]  # (*S, D)
    return out, (ids, W.shape)


def embedding_backward(dout, cache):
    """dW (V, D): the rows of dout summed into the rows they were read from."""
    ids, shape = cache
    dW = np.zeros(shape, dtype=dout.dtype)
    np.add.at(dW, ids.reshape(-1), dout.reshape(-1, shape[1]))  # repeated ids accumulate
    return dW


# ---------------------------------------------------------------- linear
def linear_forward(X, W, b):
    """Y = X W + b for X (N, H), W (H, V), b (V,) -> Y (N, V); one matrix product."""
    return X @ W + b, (X, W)


def linear_backward(dY, cache):
    """Returns dX (N, H), dW (H, V), db (V,)."""
    X, W = cache
    return dY @ W.T, X.T @ dY, dY.sum(axis=0)


# ---------------------------------------------------------------- dropout
def dropout_forward(X, p, rng, train):
    """Inverted dropout: zero each unit with probability p and scale survivors by 1/(1-p).

    Identity at evaluation time or when p == 0 (cache None).
    """
    if not train or p <= 0.0:
        return X, None
    keep = (rng.random(X.shape) >= p).astype(X.dtype) / X.dtype.type(1.0 - p)  # (same as X)
    return X * keep, keep


def dropout_backward(dout, cache):
    return dout if cache is None else dout * cache


# ---------------------------------------------------------------- loss
def log_softmax(logits):
    """Row-wise log-softmax, stable: subtract the row maximum before exponentiating."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def cross_entropy(logits, targets):
    """Mean cross-entropy in nats of logits (N, V) against targets (N,), without the gradient."""
    logp = log_softmax(logits)  # (N, V)
    return float(-logp[np.arange(logits.shape[0]), targets].mean())


def softmax_cross_entropy(logits, targets, weights=None):
    """Mean cross-entropy in nats over N rows, and its gradient with respect to the logits.

    logits (N, V), targets (N,) ints. ``weights`` (N,) optionally scales each row's loss (the
    gradient probe uses it to keep only the last position); the mean divides by N either way.
    Returns (loss, dlogits (N, V)).
    """
    N = logits.shape[0]
    rows = np.arange(N)
    shifted = logits - logits.max(axis=-1, keepdims=True)  # (N, V), stable
    dlogits = np.exp(shifted)  # one exponential pass, reused as the softmax
    total = dlogits.sum(axis=-1)  # (N,)
    nll = np.log(total) - shifted[rows, targets]  # (N,) -log p_y
    scale = weights / (total * N) if weights is not None else 1.0 / (total * N)  # (N,)
    dlogits *= scale[:, None]  # softmax, the row's weight and the mean's 1/N in one pass
    # d(-log p_y)/dlogits = p - onehot(y), scaled the same way
    dlogits[rows, targets] -= (weights / N if weights is not None else 1.0 / N)
    if weights is not None:
        nll = nll * weights
    return float(nll.sum() / N), dlogits
