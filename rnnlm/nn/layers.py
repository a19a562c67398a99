"""The non-recurrent pieces: embedding, linear, dropout.

Each piece is a forward that returns ``(out, cache)`` and, right below it, the backward that takes
``(dout, cache)``, returns the input gradient and adds parameter gradients into ``grads`` under
the names it is given (``grads=None``: input gradient only, as the gradient-flow probe wants).

Shape letters: N rows (= T * B tokens), V vocabulary, D embedding, H hidden.
"""

from rnnlm.backend import array_module, scatter_add, to_device

from .functional import add_grad


# ---------------------------------------------------------------- embedding
def embedding_forward(W, ids):
    """Look up rows of W (V, D) for integer ids of any shape S; returns (S + (D,))."""
    out = W[ids]  # (*S, D)
    return out, (ids, W.shape)


def embedding_backward(dout, cache, grads, name):
    """grads[name] (V, D) += the rows of dout summed into the rows they were read from."""
    ids, shape = cache
    xp = array_module(dout)
    if name not in grads:
        grads[name] = xp.zeros(shape, dtype=dout.dtype)
    scatter_add(xp, grads[name], ids.reshape(-1), dout.reshape(-1, shape[1]))  # repeats add up


# ---------------------------------------------------------------- linear
def linear_forward(X, W, b):
    """Y = X W + b for X (N, H), W (H, V), b (V,) -> Y (N, V); one matrix product."""
    Y = X @ W
    Y += b
    return Y, (X, W)


def linear_backward(dY, cache, grads=None, names=("W", "b")):
    """dX (N, H); adds dW (H, V) and db (V,) into grads[names[0]], grads[names[1]]."""
    X, W = cache
    if grads is not None:
        add_grad(grads, names[0], X.T @ dY)
        add_grad(grads, names[1], dY.sum(axis=0))
    return dY @ W.T


# ---------------------------------------------------------------- dropout
def dropout_forward(X, p, rng, train):
    """Inverted dropout: zero each unit with probability p and scale survivors by 1/(1-p).

    Identity at evaluation time or when p == 0 (cache None). The mask is drawn on the host from
    the run's generator (reproducible on any backend) and sent to X's device.
    """
    if not train or p <= 0.0:
        return X, None
    keep = (rng.random(X.shape) >= p).astype(X.dtype) / X.dtype.type(1.0 - p)  # (same as X)
    keep = to_device(keep, array_module(X))
    return X * keep, keep


def dropout_backward(dout, cache):
    return dout if cache is None else dout * cache
