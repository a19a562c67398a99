"""The adaptive softmax (Grave, Joulin, Cissé, Grangier, Jégou 2017) for large vocabularies.

Cutoffs 0 < c_1 < ... < c_n < V split the ids into a head [0, c_1) and n tail clusters
[c_j, c_{j+1}) (c_{n+1} = V). The head softmax runs over the c_1 head words plus one entry per
cluster; cluster j's own softmax runs over its words, from a projection of width d_j = H // 4^j:

    log p(w) = log softmax(X W0 + b0)[w]                         w in the head
    log p(w) = log softmax(X W0 + b0)[c_1 + j - 1]
             + log softmax((X P_j) W_j + b_j)[w - c_j]           w in cluster j

a normalized distribution over all V words. Training touches the head for every row and cluster j
only for the rows whose target lies in it, so with ids sorted by frequency (id 0 the most frequent,
as the word tokenizer assigns them) most rows never reach a tail. Any id order gives the same kind
of distribution, only slower and worse: the head must hold the frequent words.

Parameters (local names; the model's are ``head.adaptive.*``):
    adaptive.W0 (H, c_1 + n), adaptive.b0 (c_1 + n,)
    adaptive.P{j} (H, d_j), adaptive.W{j} (d_j, c_{j+1} - c_j), adaptive.b{j} (c_{j+1} - c_j,)
The cutoffs are read back from these shapes, so a head needs nothing but its parameters.
"""

from rnnlm.backend import array_module, matmul

from ..functional import add_grad
from .base import Head
from .softmax import log_softmax, nll_, softmax_cross_entropy_


def tail_width(H, j):
    """d_j, the projection width of cluster j (1-based): H / 4^j, at least 1."""
    return max(1, H // 4 ** j)


def check_cutoffs(cutoffs, V):
    """ValueError unless 0 < c_1 < ... < c_n < V (n >= 1)."""
    c = list(cutoffs)
    if not c or c[0] <= 0 or c[-1] >= V or any(a >= b for a, b in zip(c, c[1:])):
        raise ValueError(f"adaptive cutoffs must be increasing ids between 1 and V - 1 = {V - 1},"
                         f" at least one; got {','.join(map(str, c)) or 'none'}")


def param_shapes(H, V, cutoffs):
    check_cutoffs(cutoffs, V)
    bounds = list(cutoffs) + [V]
    n = len(cutoffs)
    shapes = {"adaptive.W0": (H, bounds[0] + n), "adaptive.b0": (bounds[0] + n,)}
    for j in range(1, n + 1):
        d, size = tail_width(H, j), bounds[j] - bounds[j - 1]
        shapes.update({f"adaptive.P{j}": (H, d), f"adaptive.W{j}": (d, size),
                       f"adaptive.b{j}": (size,)})
    return shapes


def init(H, V, cutoffs, rng, scale):
    """W0, P_j ~ U(-s, s); W_j ~ U(-s√(H/d_j), s√(H/d_j)) (1/√d_j at the default s = 1/√H);
    biases 0. Host arrays, float64."""
    xp = array_module()
    out = {}
    for name, shape in param_shapes(H, V, cutoffs).items():
        kind = name.split(".")[1][0]
        if kind == "b":
            out[name] = xp.zeros(shape)
        else:
            s = scale * (H / shape[0]) ** 0.5 if kind == "W" and name != "adaptive.W0" else scale
            out[name] = rng.uniform(-s, s, shape)
    return out


def _clusters(hp):
    """The head size c_1 and the bounds [c_1, ..., c_n, V] read from the parameter shapes."""
    n = sum(1 for k in hp if k.startswith("adaptive.P"))
    c1 = hp["adaptive.W0"].shape[1] - n
    bounds = [c1]
    for j in range(1, n + 1):
        bounds.append(bounds[-1] + hp[f"adaptive.W{j}"].shape[1])
    return c1, n, bounds


def _route(xp, targets, bounds):
    """Per row: the cluster k (0 head, j tail j) and the head target (the word or c_1 + j - 1)."""
    k = xp.searchsorted(xp.asarray(bounds[:-1]), targets, side="right")  # (N,)
    head_target = xp.where(k == 0, targets, bounds[0] + k - 1)
    return k, head_target


def loss(hp, X, targets, grads=None, prefix=""):
    """Mean -log p(target) over N rows and dX (N, H); adds every head.adaptive.* gradient."""
    xp = array_module(X)
    N = X.shape[0]
    c1, n, bounds = _clusters(hp)
    k, head_target = _route(xp, targets, bounds)
    W0 = hp["adaptive.W0"]
    Z = matmul(X, W0)  # (N, c_1 + n) head logits (the bias added in the softmax) -> dZ in place
    total, db0 = softmax_cross_entropy_(Z, head_target, N, hp["adaptive.b0"], column_sums=True)
    if grads is not None:
        add_grad(grads, prefix + "adaptive.W0", matmul(X.T, Z))
        add_grad(grads, prefix + "adaptive.b0", db0)
    dX = matmul(Z, W0.T)  # (N, H)
    for j in range(1, n + 1):
        P, W = hp[f"adaptive.P{j}"], hp[f"adaptive.W{j}"]
        rows = xp.nonzero(k == j)[0]  # (m,) the rows whose target is in cluster j
        Xj = X[rows]  # (m, H)
        Pj = matmul(Xj, P)  # (m, d_j)
        Zj = matmul(Pj, W)  # (m, size_j)
        part, dbj = softmax_cross_entropy_(Zj, targets[rows] - bounds[j - 1], N,
                                           hp[f"adaptive.b{j}"], column_sums=True)
        total = total + part
        dPj = matmul(Zj, W.T)  # (m, d_j)
        if grads is not None:
            add_grad(grads, prefix + f"adaptive.P{j}", matmul(Xj.T, dPj))
            add_grad(grads, prefix + f"adaptive.W{j}", matmul(Pj.T, Zj))
            add_grad(grads, prefix + f"adaptive.b{j}", dbj)
        dX[rows] += matmul(dPj, P.T)
    return float(total) / N, dX


def nll(hp, X, targets):
    """-log p(target) of every row (N,), normalized over all V; tails only for their own rows."""
    xp = array_module(X)
    c1, n, bounds = _clusters(hp)
    k, head_target = _route(xp, targets, bounds)
    out = nll_(matmul(X, hp["adaptive.W0"]), head_target, hp["adaptive.b0"])  # (N,)
    for j in range(1, n + 1):
        rows = xp.nonzero(k == j)[0]
        Zj = matmul(matmul(X[rows], hp[f"adaptive.P{j}"]), hp[f"adaptive.W{j}"])
        out[rows] += nll_(Zj, targets[rows] - bounds[j - 1], hp[f"adaptive.b{j}"])
    return out


def _tail_logits(hp, X, j):
    Zj = (X @ hp[f"adaptive.P{j}"]) @ hp[f"adaptive.W{j}"]
    Zj += hp[f"adaptive.b{j}"]
    return Zj


def logits(hp, X):
    """The normalized log-probabilities of all V words (N, V): valid logits of the same softmax.

    (N, V) work: for sampling a few rows, for the probe and the tests, never in training.
    """
    xp = array_module(X)
    c1, n, bounds = _clusters(hp)
    L0 = log_softmax(X @ hp["adaptive.W0"] + hp["adaptive.b0"])  # (N, c_1 + n)
    out = xp.empty((X.shape[0], bounds[-1]), X.dtype)
    out[:, :c1] = L0[:, :c1]
    for j in range(1, n + 1):
        out[:, bounds[j - 1]:bounds[j]] = L0[:, c1 + j - 1:c1 + j] + log_softmax(
            _tail_logits(hp, X, j))
    return out


def logits_backward(hp, X, dlogits, grads=None, prefix=""):
    """dX (N, H) from the gradient at ``logits`` (the log-probabilities); adds the parameters'
    gradients. Through each log-softmax: dz = dl - softmax(z) · Σ dl."""
    xp = array_module(X)
    c1, n, bounds = _clusters(hp)
    W0 = hp["adaptive.W0"]
    dL0 = xp.empty((X.shape[0], c1 + n), X.dtype)  # gradient at the head's log-probabilities
    dL0[:, :c1] = dlogits[:, :c1]
    dX = xp.zeros_like(X)
    for j in range(1, n + 1):
        P, W = hp[f"adaptive.P{j}"], hp[f"adaptive.W{j}"]
        dl = dlogits[:, bounds[j - 1]:bounds[j]]  # (N, size_j)
        s = dl.sum(axis=1, keepdims=True)  # (N, 1)
        dL0[:, c1 + j - 1] = s[:, 0]  # the cluster's entry is added to each of its words
        Pj = X @ P
        dZ = dl - xp.exp(log_softmax(Pj @ W + hp[f"adaptive.b{j}"])) * s
        dPj = dZ @ W.T
        if grads is not None:
            add_grad(grads, prefix + f"adaptive.P{j}", X.T @ dPj)
            add_grad(grads, prefix + f"adaptive.W{j}", Pj.T @ dZ)
            add_grad(grads, prefix + f"adaptive.b{j}", dZ.sum(axis=0))
        dX += dPj @ P.T
    dZ0 = dL0 - xp.exp(log_softmax(X @ W0 + hp["adaptive.b0"])) * dL0.sum(axis=1, keepdims=True)
    if grads is not None:
        add_grad(grads, prefix + "adaptive.W0", X.T @ dZ0)
        add_grad(grads, prefix + "adaptive.b0", dZ0.sum(axis=0))
    dX += dZ0 @ W0.T
    return dX


ADAPTIVE = Head(name="adaptive", param_shapes=param_shapes, init=init, loss=loss, nll=nll,
                logits=logits, logits_backward=logits_backward)
