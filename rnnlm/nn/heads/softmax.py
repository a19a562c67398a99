"""Log-softmax and softmax cross-entropy on logits (N, V): shared by the heads and the probe.

Shape letters: N rows (= T * B tokens), V vocabulary.

Subnormal floats: a confident model puts most words 80 to 200 nats below the row's best, and
exp of that is a subnormal float (under 1.2e-38 in float32) or a number that becomes one once
scaled by 1/N. The CPU computes on subnormals through a slow path: the head of an over-fitted
word model (V 10,000) took 3x its usual time. So every exponential here first raises the shifted
logits to ``exp_floor`` (exp of it, scaled, stays a normal float); the target's own logit is
read before, so -log p(target) stays exact, and what the floor adds to a row's sum is below its
rounding (at most C * e^floor against a sum of at least 1).
"""

import math

from rnnlm import fused
from rnnlm.backend import array_module, by_rows


def exp_floor(Z, denom=1):
    """The lowest shifted logit (each is ≤ 0) worth exponentiating for Z (N, C): exp(floor) /
    (C * denom) is still a normal float of Z's dtype (float32: about -70 for C 10,000 and
    denom 700). The softmax's values under it are below what the dtype can hold normally."""
    tiny = float(array_module(Z).finfo(Z.dtype).tiny)
    return math.log(tiny) + math.log(Z.shape[-1] * denom) + 1.0


def _exp_shifted_(Z, targets, denom=1):
    """Z (N, C) logits -> exp(Z - row max) in place, from logits raised to exp_floor (scaled by
    1/denom afterwards, the values stay normal floats). Returns the targets' shifted logits z_y
    (N,), read before the floor (so -log p(target) = log(total) - z_y is exact), and the row
    sums total (N,)."""
    xp = array_module(Z)
    Z -= Z.max(axis=1, keepdims=True)  # stable
    z_y = Z[xp.arange(Z.shape[0]), targets]  # (N,) a copy
    xp.maximum(Z, exp_floor(Z, denom), out=Z)
    xp.exp(Z, out=Z)
    return z_y, Z.sum(axis=1)


def log_softmax(logits):
    """Row-wise log-softmax, stable: subtract the row maximum before exponentiating (exact
    log-probabilities; only the row's normaliser is computed from floored logits)."""
    xp = array_module(logits)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    e = xp.maximum(shifted, exp_floor(shifted))
    xp.exp(e, out=e)
    return shifted - xp.log(e.sum(axis=-1, keepdims=True))


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
    dlogits = xp.array(logits, copy=True)  # (N, V), becomes the softmax, then the gradient
    z_y, total = _exp_shifted_(dlogits, targets, N)
    nll = xp.log(total) - z_y  # (N,) -log p_y
    scale = weights / (total * N) if weights is not None else 1.0 / (total * N)  # (N,)
    dlogits *= scale[:, None]  # softmax, the row's weight and the mean's 1/N in one pass
    # d(-log p_y)/dlogits = p - onehot(y), scaled the same way
    dlogits[rows, targets] -= (weights / N if weights is not None else 1.0 / N)
    if weights is not None:
        nll = nll * weights
    return float(nll.sum() / N), dlogits


# ---------------------------------------------------------------- in place, for the heads
def nll_(Z, targets, bias=None):
    """-log softmax(Z + bias)[row, target] (N,) of logits Z (N, C) and bias (C,) or None; Z is
    overwritten (with the bias added, and on numpy's path exp of it). Rows are independent: big
    arrays are split over host threads (backend.by_rows)."""
    xp = array_module(Z)
    kernels = fused.kernels(Z)  # numba's one pass after the row maximum, if any

    def rows(s):
        Zs = Z[s]
        if bias is not None:
            Zs += bias
        if kernels and Zs.flags.c_contiguous:
            out = xp.empty(Zs.shape[0], Zs.dtype)
            kernels["softmax_nll"](Zs, Zs.max(axis=1), targets[s], Zs.dtype.type(exp_floor(Zs)),
                                   out)
            return out
        z_y, total = _exp_shifted_(Zs, targets[s])
        return array_module(Z).log(total) - z_y
    parts = by_rows(rows, Z)
    return parts[0] if len(parts) == 1 else array_module(Z).concatenate(parts)


def softmax_cross_entropy_(Z, targets, denom, bias=None, column_sums=False):
    """Summed -log p(target) of logits Z + bias (Z (N, C), bias (C,) or None), and Z turned in
    place into the gradient of that sum divided by `denom`: (softmax - onehot(target)) / denom.
    Returns the sum (an array), or with ``column_sums`` (sum, Z's column sums (C,)): the bias's
    gradient, which numba's pass adds up as it writes Z.

    No (N, C) temporary: the shift, the exponential and the scaling all write over Z. Rows are
    independent: big arrays are split over host threads (backend.by_rows).
    """
    xp = array_module(Z)
    kernels = fused.kernels(Z)  # numba's pass for all after the row maximum, if any

    def rows(s):
        Zs, ys = Z[s], targets[s]
        if bias is not None:
            Zs += bias
        if kernels and Zs.flags.c_contiguous:
            sums = xp.zeros(Z.shape[1], Z.dtype)
            total = kernels["softmax_xent"](Zs, Zs.max(axis=1), ys, denom,
                                            Zs.dtype.type(exp_floor(Zs, denom)), sums)
            return total, sums
        z_y, total = _exp_shifted_(Zs, ys, denom)
        Zs *= (1.0 / (total * denom))[:, None]
        Zs[xp.arange(Zs.shape[0]), ys] -= 1.0 / denom
        return (xp.log(total) - z_y).sum(), (Zs.sum(axis=0) if column_sums else None)
    parts = by_rows(rows, Z)
    total = sum(t for t, _ in parts)
    return (total, sum(c for _, c in parts)) if column_sums else total
