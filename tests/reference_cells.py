"""The cells' window forward and backward as they were before the per-step optimisations of
issue 13: plain numpy, a fresh array per operation, the exp-form sigmoid, W_hᵀ as a view. The
optimised cells are tested equal to these (tests/test_fast_paths.py). Same call signature and
the same gradient names; caches are plain tuples."""

import numpy as np

from rnnlm.nn.functional import sigmoid


def _proj(X, W_x, b):
    T, B, D = X.shape
    return (X.reshape(T * B, D) @ W_x + b).reshape(T, B, -1)


def _weight_grads(X, h0, Hs, dA_x, dA_h, W_x, grads, prefix):
    T, B, D = X.shape
    kH, H = dA_x.shape[2], h0.shape[1]
    dAx = dA_x.reshape(T * B, kH)
    if grads is not None:
        Hprev = np.concatenate([h0[None], Hs[:-1]]).reshape(T * B, H)
        grads[prefix + "W_x"] = X.reshape(T * B, D).T @ dAx
        grads[prefix + "W_h"] = Hprev.T @ dA_h.reshape(T * B, kH)
        grads[prefix + "b"] = dAx.sum(axis=0)
    return (dAx @ W_x.T).reshape(T, B, D)


def lstm_forward(p, X, state):
    h0, c0 = state
    A = _proj(X, p["W_x"], p["b"])
    T, B, H4 = A.shape
    H = H4 // 4
    G, Cs, tanhC, Hs = np.empty_like(A), *(np.empty((T, B, H), A.dtype) for _ in range(3))
    h, c = h0, c0
    for t in range(T):
        a = A[t] + h @ p["W_h"]
        G[t, :, :3 * H] = sigmoid(a[:, :3 * H])
        G[t, :, 3 * H:] = np.tanh(a[:, 3 * H:])
        i, f, o, g = (G[t, :, k * H:(k + 1) * H] for k in range(4))
        Cs[t] = c = f * c + i * g
        tanhC[t] = np.tanh(c)
        Hs[t] = h = o * tanhC[t]
    return Hs, (h.copy(), c.copy()), (X, h0, c0, G, Cs, tanhC, Hs)


def lstm_backward(p, dHs, dstate_out, cache, grads=None, prefix=""):
    X, h0, c0, G, Cs, tanhC, Hs = cache
    T, B, H4 = G.shape
    H = H4 // 4
    dA, sq = np.empty_like(G), np.empty(T)
    dh_next, dc_next = dstate_out
    for t in range(T - 1, -1, -1):
        i, f, o, g = (G[t, :, k * H:(k + 1) * H] for k in range(4))
        tc, c_prev = tanhC[t], (Cs[t - 1] if t > 0 else c0)
        dh = dHs[t] + dh_next
        sq[t] = np.vdot(dh, dh) + np.vdot(dc_next, dc_next)
        dc = dh * o * (1.0 - tc * tc) + dc_next
        dA[t] = np.concatenate([dc * g * i * (1 - i), dc * c_prev * f * (1 - f),
                                dh * tc * o * (1 - o), dc * i * (1.0 - g * g)], axis=1)
        dc_next = dc * f
        dh_next = dA[t] @ p["W_h"].T
    dX = _weight_grads(X, h0, Hs, dA, dA, p["W_x"], grads, prefix)
    return dX, (dh_next, dc_next), np.sqrt(sq)


def gru_forward(p, X, state):
    (h0,) = state
    GX = _proj(X, p["W_x"], p["b"])
    T, B, H3 = GX.shape
    H = H3 // 3
    G, HN, Hs = np.empty_like(GX), np.empty((T, B, H), GX.dtype), np.empty((T, B, H), GX.dtype)
    h = h0
    for t in range(T):
        gh = h @ p["W_h"]
        rz = sigmoid(GX[t, :, :2 * H] + gh[:, :2 * H])
        HN[t] = gh[:, 2 * H:] + p["b_hn"]
        n = np.tanh(GX[t, :, 2 * H:] + rz[:, :H] * HN[t])
        G[t] = np.concatenate([rz, n], axis=1)
        Hs[t] = h = (1 - rz[:, H:]) * n + rz[:, H:] * h
    return Hs, (h.copy(),), (X, h0, G, HN, Hs)


def gru_backward(p, dHs, dstate_out, cache, grads=None, prefix=""):
    X, h0, G, HN, Hs = cache
    T, B, H3 = G.shape
    H = H3 // 3
    dGX, dGH, sq = np.empty_like(G), np.empty_like(G), np.empty(T)
    (dh_next,) = dstate_out
    for t in range(T - 1, -1, -1):
        r, z, n = G[t, :, :H], G[t, :, H:2 * H], G[t, :, 2 * H:]
        h_prev = Hs[t - 1] if t > 0 else h0
        dh = dHs[t] + dh_next
        sq[t] = np.vdot(dh, dh)
        dan = dh * (1 - z) * (1 - n * n)
        dar = dan * HN[t] * r * (1 - r)
        daz = dh * (h_prev - n) * z * (1 - z)
        dGX[t] = np.concatenate([dar, daz, dan], axis=1)
        dGH[t] = np.concatenate([dar, daz, dan * r], axis=1)
        dh_next = dGH[t] @ p["W_h"].T + dh * z
    dX = _weight_grads(X, h0, Hs, dGX, dGH, p["W_x"], grads, prefix)
    if grads is not None:
        grads[prefix + "b_hn"] = dGH[:, :, 2 * H:].sum(axis=(0, 1))
    return dX, (dh_next,), np.sqrt(sq)


def rnn_forward(p, X, state, relu):
    (h0,) = state
    A = _proj(X, p["W_x"], p["b"])
    Hs, h = np.empty_like(A), h0
    for t in range(A.shape[0]):
        a = A[t] + h @ p["W_h"]
        Hs[t] = h = np.maximum(a, 0) if relu else np.tanh(a)
    return Hs, (h.copy(),), (X, h0, Hs)


def rnn_backward(p, dHs, dstate_out, cache, relu, grads=None, prefix=""):
    X, h0, Hs = cache
    T = Hs.shape[0]
    dA = (Hs > 0).astype(Hs.dtype) if relu else 1.0 - Hs * Hs
    sq = np.empty(T)
    dh_next = dstate_out[0]
    for t in range(T - 1, -1, -1):
        dh = dHs[t] + dh_next
        sq[t] = np.vdot(dh, dh)
        dA[t] *= dh
        dh_next = dA[t] @ p["W_h"].T
    dX = _weight_grads(X, h0, Hs, dA, dA, p["W_x"], grads, prefix)
    return dX, (dh_next,), np.sqrt(sq)


def reference(cell):
    """(forward, backward) of the reference implementation of `cell`."""
    if cell in ("rnn_tanh", "rnn_relu"):
        relu = cell == "rnn_relu"
        return (lambda p, X, s: rnn_forward(p, X, s, relu),
                lambda p, dHs, ds, c, grads=None, prefix="": rnn_backward(p, dHs, ds, c, relu,
                                                                          grads, prefix))
    return {"gru": (gru_forward, gru_backward), "lstm": (lstm_forward, lstm_backward)}[cell]
