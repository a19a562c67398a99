"""LSTM, fused gates in the order [i, f, o, g] (equations in cells/__init__.py)."""

from typing import NamedTuple

from rnnlm.backend import array_module

from ..functional import sigmoid
from .base import Cell
from .common import input_projection, weight_grads


class LSTMCache(NamedTuple):
    X: object  # (T, B, D) the window's inputs
    h0: object  # (B, H) carried h
    c0: object  # (B, H) carried c
    G: object  # (T, B, 4H) activations: i, f, o sigmoid; g tanh
    Cs: object  # (T, B, H) cell states c_t
    tanhC: object  # (T, B, H) tanh(c_t)
    Hs: object  # (T, B, H)


def forward(p, X, state):
    xp = array_module(X)
    h0, c0 = state
    A = input_projection(X, p["W_x"], p["b"])  # (T, B, 4H) pre-activations
    T, B, H4 = A.shape
    H = H4 // 4
    G = xp.empty_like(A)  # (T, B, 4H) activations: i, f, o sigmoid; g tanh
    Cs = xp.empty((T, B, H), A.dtype)  # cell states c_t
    tanhC = xp.empty_like(Cs)  # tanh(c_t), kept for backward
    Hs = xp.empty_like(Cs)  # (T, B, H)
    W_h, h, c = p["W_h"], h0, c0
    for t in range(T):
        a = A[t]
        a += h @ W_h
        g = G[t]
        sigmoid(a[:, :3 * H], out=g[:, :3 * H])
        xp.tanh(a[:, 3 * H:], out=g[:, 3 * H:])
        c = xp.multiply(g[:, H:2 * H], c, out=Cs[t])  # f ⊙ c_{t-1}
        c += g[:, :H] * g[:, 3 * H:]  # + i ⊙ g
        xp.tanh(c, out=tanhC[t])
        h = xp.multiply(g[:, 2 * H:3 * H], tanhC[t], out=Hs[t])  # o ⊙ tanh(c_t)
    return Hs, (h.copy(), c.copy()), LSTMCache(X, h0, c0, G, Cs, tanhC, Hs)


def backward(p, dHs, dstate_out, cache, grads=None, prefix=""):
    xp = array_module(dHs)
    X, h0, c0, G, Cs, tanhC, Hs = cache
    T, B, H4 = G.shape
    H = H4 // 4
    W_hT = p["W_h"].T
    dA = xp.empty_like(G)  # (T, B, 4H) gradient at the pre-activations
    sq = xp.empty(T)  # ‖∂L/∂(h_t, c_t)‖², kept on the device until the window is done
    dh_next, dc_next = dstate_out
    for t in range(T - 1, -1, -1):
        g = G[t]
        i, f, o, gg = g[:, :H], g[:, H:2 * H], g[:, 2 * H:3 * H], g[:, 3 * H:]
        tc = tanhC[t]
        c_prev = Cs[t - 1] if t > 0 else c0
        dh = dHs[t] + dh_next  # from the loss at t + from the future
        # ‖∂L/∂(h_t, c_t)‖ of the state as the next step receives it (dc_next = ∂L/∂c_t at fixed
        # h_t): the LSTM's memory travels in c, so h alone would hide it.
        sq[t] = xp.vdot(dh, dh) + xp.vdot(dc_next, dc_next)
        dc = dh * o
        dc *= 1.0 - tc * tc  # through h = o ⊙ tanh(c)
        dc += dc_next  # + from c_{t+1}
        da = dA[t]
        xp.multiply(dc, gg, out=da[:, :H])  # ∂/∂i
        xp.multiply(dc, c_prev, out=da[:, H:2 * H])  # ∂/∂f
        xp.multiply(dh, tc, out=da[:, 2 * H:3 * H])  # ∂/∂o
        s = g[:, :3 * H]
        da[:, :3 * H] *= s * (1.0 - s)  # σ' = σ(1 - σ), one pass over the sigmoid block
        xp.multiply(dc * i, 1.0 - gg * gg, out=da[:, 3 * H:])  # ∂/∂g through tanh
        dc_next = dc * f  # into c_{t-1}
        dh_next = da @ W_hT  # into h_{t-1}
    dX = weight_grads(X, h0, Hs, dA, dA, p["W_x"], grads, prefix)
    return dX, (dh_next, dc_next), xp.sqrt(sq)


LSTM = Cell(name="lstm", gates="ifog", state=("h", "c"), forward=forward, backward=backward,
            tanh_gates="g", forget_gate="f", activations=lambda cache: cache.G, kept=7)
