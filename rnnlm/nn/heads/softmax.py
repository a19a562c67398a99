"""Log-softmax and softmax cross-entropy on logits (N, V): shared by the heads and the probe.

Shape letters: N rows (= T * B tokens), V vocabulary.
"""

from rnnlm.backend import array_module


def log_softmax(logits):
    """Row-wise log-softmax, stable: subtract the row maximum before exponentiating."""
    xp = array_module(logits)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=-1, keepdims=True))


def token_nll(logits, targets):
    """-log p(target) of every row: logits (N, V), targets (N,) -> (N,), without the gradient."""
    xp = array_module(logits)
    logp = log_softmax(logits)  # (N, V)
    return -logp[xp.arange(logits.shape[0]), targets]


def cross_entropy(logits, targets):
    """Mean cross-entropy in nats of logits (N, V) against targets (N,), without the gradient."""
    return float(token_nll(logits, targets).mean())


def softmax_cross_entropy(logits, targets, weights=None):
    """Mean cross-entropy in nats over N rows, and its gradient with respect to the logits.

    logits (N, V), targets (N,) ints. ``weights`` (N,) optionally scales each row's loss (the
    gradient probe uses it to keep only the last position); the mean divides by N either way.
    Returns (loss, dlogits (N, V)).
    """
    xp = array_module(logits)
    N = logits.shape[0]
    rows = xp.arange(N)
    shifted = logits - logits.max(axis=-1, keepdims=True)  # (N, V), stable
    dlogits = xp.exp(shifted)  # one exponential pass, reused as the softmax
    total = dlogits.sum(axis=-1)  # (N,)
    nll = xp.log(total) - shifted[rows, targets]  # (N,) -log p_y
    scale = weights / (total * N) if weights is not None else 1.0 / (total * N)  # (N,)
    dlogits *= scale[:, None]  # softmax, the row's weight and the mean's 1/N in one pass
    # d(-log p_y)/dlogits = p - onehot(y), scaled the same way
    dlogits[rows, targets] -= (weights / N if weights is not None else 1.0 / N)
    if weights is not None:
        nll = nll * weights
    return float(nll.sum() / N), dlogits


# ---------------------------------------------------------------- in place, for the heads
def nll_(Z, targets):
    """-log softmax(Z)[row, target] (N,) of logits Z (N, C); Z is overwritten (exp of it)."""
    xp = array_module(Z)
    Z -= Z.max(axis=1, keepdims=True)  # stable
    z_y = Z[xp.arange(Z.shape[0]), targets]  # (N,) a copy, taken before exp
    xp.exp(Z, out=Z)
    return xp.log(Z.sum(axis=1)) - z_y


def softmax_cross_entropy_(Z, targets, denom):
    """Summed -log p(target) of logits Z (N, C), and Z turned in place into the gradient of that
    sum divided by `denom`: (softmax(Z) - onehot(target)) / denom. Returns the sum (an array).

    No (N, C) temporary: the shift, the exponential and the scaling all write over Z.
    """
    xp = array_module(Z)
    rows = xp.arange(Z.shape[0])
    Z -= Z.max(axis=1, keepdims=True)
    z_y = Z[rows, targets]
    xp.exp(Z, out=Z)
    total = Z.sum(axis=1)  # (N,)
    nll_sum = (xp.log(total) - z_y).sum()
    Z *= (1.0 / (total * denom))[:, None]
    Z[rows, targets] -= 1.0 / denom
    return nll_sum
