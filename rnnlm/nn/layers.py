"""The non-recurrent pieces: embedding, linear, dropout.

Each piece is a forward that returns ``(out, cache)`` and, right below it, the backward that takes
``(dout, cache)``, returns the input gradient and adds parameter gradients into ``grads`` under
the names it is given (``grads=None``: input gradient only, as the gradient-flow probe wants).

Shape letters: N rows (= T * B tokens), V vocabulary, D embedding, H hidden.
"""

from typing import NamedTuple

from rnnlm.backend import array_module, matmul, scatter_add, to_device

from .functional import add_grad


# ---------------------------------------------------------------- embedding
def embedding_forward(W, ids):
    """Look up rows of W (V, D) for integer ids of any shape S; returns (S + (D,))."""
    out = W[ids]  # (*S, D)
    return out, (ids, W.shape)


def embedding_backward(dout, cache, grads, name):
    """grads[name] (V, D) += the rows of dout summed into the rows they were read from. A new
    gradient in a Grads dict gets its row hint, the ids read; a hinted one adds these ids to it
    (functional.Grads)."""
    ids, shape = cache
    xp = array_module(dout)
    fresh = name not in grads
    if fresh:
        grads[name] = xp.zeros(shape, dtype=dout.dtype)
    scatter_add(xp, grads[name], ids.reshape(-1), dout.reshape(-1, shape[1]))  # repeats add up
    rows = getattr(grads, "rows", None)
    if rows is not None and (fresh or name in rows):
        rows[name] = xp.unique(ids) if fresh else xp.union1d(rows[name], ids)


class Lookup(NamedTuple):
    """The embedding's output (T, B, D) not yet looked up: ids (T, B) into E (V, D). The model
    hands this to the first layer instead of the rows when the vocabulary is small beside the
    window (V · 4 ≤ T · B, char models) and nothing sits between the two (no dropout on the
    embedding): the layer's input product X W_x is then (E W_x)[ids], one (V, D) @ (D, kH)
    product and a gather, and its gradients come from the (V, kH) table of dA's rows summed by
    id (cells/common.py), so three products of N·D·kH multiply-adds become three of V·D·kH."""
    ids: object  # (T, B) int
    E: object  # (V, D)

    @property
    def shape(self):
        return (*self.ids.shape, self.E.shape[1])

    @property
    def dtype(self):
        return self.E.dtype


class TableGrad(NamedTuple):
    """What the first layer's backward returns for a Lookup input: the gradient of E (V, D)
    itself, to be added into the embedding's (in place of rows to scatter)."""
    dE: object  # (V, D)


# ---------------------------------------------------------------- linear
def linear_forward(X, W, b):
    """Y = X W + b for X (N, H), W (H, V), b (V,) -> Y (N, V); one matrix product."""
    Y = matmul(X, W)
    Y += b
    return Y, (X, W)


def linear_backward(dY, cache, grads=None, names=("W", "b")):
    """dX (N, H); adds dW (H, V) and db (V,) into grads[names[0]], grads[names[1]]."""
    X, W = cache
    if grads is not None:
        add_grad(grads, names[0], matmul(X.T, dY))
        add_grad(grads, names[1], dY.sum(axis=0))
    return matmul(dY, W.T)


# ---------------------------------------------------------------- tied output layer
def tied_linear_forward(X, E, b):
    """Y = X Eᵀ + b for X (N, D), E (V, D) the embedding matrix, b (V,): the output layer of a
    model with tied weights (head.W = embed.Wᵀ, no copy)."""
    Y = matmul(X, E.T)
    Y += b
    return Y, (X, E)


def tied_linear_backward(dY, cache, grads=None, names=("embed.W", "head.b")):
    """dX (N, D); adds dE = dYᵀ X (V, D) into grads[names[0]] (the embedding's own gradient is
    added there too, by embedding_backward: the tied matrix gets both) and db into names[1]."""
    X, E = cache
    if grads is not None:
        add_grad(grads, names[0], matmul(dY.T, X))
        add_grad(grads, names[1], dY.sum(axis=0))
    return matmul(dY, E)


# ---------------------------------------------------------------- dropout
def dropout_mask(shape, p, rng, dtype):  # dtype: a numpy dtype (X.dtype)
    """Inverted-dropout keep mask on the host: 0 with probability p, else 1/(1-p).

    Drawn from the run's generator (reproducible on any backend); the caller sends it to X's
    device. A mask of shape (1, B, F) used on (T, B, F) is locked dropout: one mask per sequence,
    the same at every time step (it broadcasts, forward and backward)."""
    return (rng.random(shape) >= p).astype(dtype) / dtype.type(1.0 - p)


def dropout_forward(X, p, rng, train):
    """Inverted dropout: zero each unit with probability p and scale survivors by 1/(1-p).

    Identity at evaluation time or when p == 0 (cache None). The mask is drawn on the host from
    the run's generator (reproducible on any backend) and sent to X's device.
    """
    if not train or p <= 0.0:
        return X, None
    return masked_forward(X, dropout_mask(X.shape, p, rng, X.dtype))


def masked_forward(X, keep):
    """X ⊙ keep for a mask drawn beforehand (None: identity); keep broadcasts over X (T, B, F)."""
    if keep is None:
        return X, None
    keep = to_device(keep, array_module(X))
    return X * keep, keep


def dropout_backward(dout, cache):
    return dout if cache is None else dout * cache
