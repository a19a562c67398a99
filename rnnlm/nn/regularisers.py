"""AWD-LSTM's regularisers that are more than a dropout mask on an activation: dropping whole
words, dropping recurrent weights, and the two activation penalties. Forward and backward side
by side; masks are drawn by the caller (model/lm.py) so a gradient check can hold them fixed.

Shape letters: T time steps, B streams, V vocabulary, H hidden, kH the gate blocks of W_h.
"""

from rnnlm.backend import array_module, to_device


# ---------------------------------------------------------------- embedding (word) dropout
def word_dropout_forward(emb, ids, row_keep):
    """Drop whole words: every occurrence of a dropped word id reads a zero embedding.

    emb (T, B, D) the looked-up rows, ids (T, B), row_keep (V,) the keep mask of embed.W's rows
    (0 or 1/(1-p), one draw per window). Same as looking the ids up in embed.W ⊙ row_keep[:, None].
    Returns (out, cache): the cache is the per-token scale (T, B, 1), so dropout_backward is the
    backward (and the embedding's own backward then adds into the rows it read)."""
    scale = to_device(row_keep, array_module(emb))[ids][..., None]  # (T, B, 1)
    return emb * scale, scale


# ---------------------------------------------------------------- weight-drop (DropConnect)
def weight_drop_forward(W, keep):
    """W ⊙ keep: the recurrent weights (H, kH) the cell sees during one window."""
    keep = to_device(keep, array_module(W))
    return W * keep, keep


def weight_drop_backward(dW_dropped, keep):
    """The gradient at the raw W from the gradient at W ⊙ keep: dW ⊙ keep."""
    return dW_dropped * keep


# ---------------------------------------------------------------- activation penalties
def ar_forward(Hd, alpha):
    """AR (activation regularisation): α · mean(h²) over every element of Hd (T, B, H), the last
    layer's output after its dropout. Returns (value, cache)."""
    return alpha * float((Hd * Hd).mean()), (Hd, alpha)


def ar_backward(cache):
    """∂/∂Hd of α · mean(Hd²) = 2α Hd / (T B H)."""
    Hd, alpha = cache
    return Hd * (2.0 * alpha / Hd.size)


def tar_forward(Hs, beta):
    """TAR (temporal activation regularisation): β · mean((h_t - h_{t-1})²) over t = 1..T-1 of
    this window and every stream and unit, on the last layer's output before its dropout
    (T, B, H). 0 when T = 1 (no pair in the window). Returns (value, cache)."""
    if Hs.shape[0] < 2:
        return 0.0, (None, beta, Hs.shape)
    diff = Hs[1:] - Hs[:-1]  # (T-1, B, H)
    return beta * float((diff * diff).mean()), (diff, beta, Hs.shape)


def tar_backward(cache):
    """∂/∂Hs: each difference d_t = h_t - h_{t-1} gives +2β d_t / n to h_t and -2β d_t / n to
    h_{t-1} (n = (T-1) B H)."""
    diff, beta, shape = cache
    if diff is None:
        return None
    xp = array_module(diff)
    g = diff * (2.0 * beta / diff.size)  # (T-1, B, H)
    dHs = xp.zeros(shape, diff.dtype)
    dHs[1:] += g
    dHs[:-1] -= g
    return dHs
