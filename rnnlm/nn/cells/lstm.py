"""LSTM, fused gates in the order [i, f, o, g] (equations in cells/__init__.py).

Per step, on (B, ·) blocks that stay in cache: no allocation, the bias added and the sigmoid
blocks halved there (not in passes over the whole (T, B, 4H) projection or over copies of the
weights), the gate activations written over the pre-activations, one tanh for all four gates
(common.sigmoid_halves), and in the backward the recurrent product on a contiguous W_hᵀ. With
``overwrite=True`` (the training step) dA is written over the activations G, step by step, after
the step has read them: the cache is spent, and no second (T, B, 4H) array is made.
"""

from typing import NamedTuple

from rnnlm import fused
from rnnlm.backend import array_module

from ..functional import sigmoid
from .base import Cell
from .common import input_projection, loop_product, run_compiled, sigmoid_halves, weight_grads


class LSTMCache(NamedTuple):
    X: object  # (T, B, D) the window's inputs, or a Lookup of them (layers.py)
    G: object  # (T, B, 4H) activations: i, f, o sigmoid; g tanh (dA after an overwriting backward)
    Cext: object  # (T + 1, B, H) c_0 (carried in), then the cell states c_1 .. c_T
    tanhC: object  # (T, B, H) tanh(c_t), kept for backward
    Hext: object  # (T + 1, B, H) h_0 (carried in), then h_1 .. h_T (the layer's output)


def forward(p, X, state):
    xp = array_module(p["W_h"])  # X may be a Lookup (layers.py), not an array
    h0, c0 = state
    T, B, _ = X.shape
    H = h0.shape[1]
    bh = p["b"] * sigmoid_halves(xp, 4, H, (3,), X.dtype)  # (4H,) b, halved on i, f, o
    G = input_projection(X, p["W_x"])  # (T, B, 4H) x_t W_x; the step adds the rest
    Cext = xp.empty((T + 1, B, H), X.dtype)
    Hext = xp.empty_like(Cext)
    Cext[0], Hext[0] = c0, h0
    tanhC = xp.empty((T, B, H), X.dtype)
    W_h, blocks = loop_product(xp, G, p["W_h"])  # h_{t-1} W_h (H, 4H); each thread's rows
    if not run_compiled("lstm_forward_loop", W_h, blocks, (G, Cext, Hext, tanhC),
                        lambda r0, r1: (G, bh, Cext, tanhC, Hext, W_h.address, r0, r1)):
        kernels = fused.kernels(G)  # numba's one pass for the step's arithmetic, if any
        forward_step = kernels["lstm_forward"] if kernels else _forward_step(xp)
        for t in range(T):
            g = G[t]
            W_h(Hext[t], g, accumulate=True)  # g += h_{t-1} W_h
            forward_step(g, bh, Cext[t], Cext[t + 1], tanhC[t], Hext[t + 1])
    Hs = Hext[1:]  # (T, B, H), a contiguous view
    return Hs, (Hs[-1].copy(), Cext[-1].copy()), LSTMCache(X, G, Cext, tanhC, Hext)


def backward(p, dHs, dstate_out, cache, grads=None, prefix="", overwrite=False):
    xp = array_module(dHs)
    X, G, Cext, tanhC, Hext = cache
    T, B, H4 = G.shape
    H = H4 // 4
    dA = G if overwrite else xp.empty_like(G)  # (T, B, 4H) gradient at the pre-activations
    dh_next, dc_next = (xp.array(s, copy=True) for s in dstate_out)  # (B, H) buffers we own
    W_hT, blocks = loop_product(xp, G, p["W_h"], transpose=True)  # dA_t W_hᵀ (4H, H)
    sq = xp.zeros(T)  # ‖∂L/∂(h_t, c_t)‖², kept on the device until the window is done
    db = xp.zeros(H4, G.dtype)  # the bias's gradient, added up step by step
    if not run_compiled("lstm_backward_loop", W_hT, blocks, (G, dA, tanhC, Cext, dh_next, dc_next),
                        lambda r0, r1, db, sq: (G, dA, tanhC, Cext, dHs, dh_next, dc_next, db,
                                                sq, W_hT.address, r0, r1), sums=(db, sq)):
        kernels = fused.kernels(G)  # numba's one pass for the step's arithmetic, if any
        backward_step = kernels["lstm_backward"] if kernels else _backward_step(xp, B, H, G.dtype)
        for t in range(T - 1, -1, -1):
            # g and da are the same memory when overwriting: every read of g comes first
            sq[t] = backward_step(G[t], dA[t], tanhC[t], Cext[t], dHs[t], dh_next, dc_next, db)
            W_hT(dA[t], dh_next)  # into h_{t-1}
    del W_hT  # its packed copy (MKL) is freed before weight_grads allocates
    dX = weight_grads(X, Hext[:-1], dA, dA, p["W_x"], grads, prefix,
                      dHs if overwrite else None, db)
    return dX, (dh_next, dc_next), xp.sqrt(sq)


def _forward_step(xp):
    """The numpy forward step, with the signature of fused/gates.py's compiled one: step(g, bh,
    c_prev, c, tc, h) turns g (B, 4H), the pre-activations without the bias, into the
    activations in place: i, f, o halved, the bias bh (4H,) (halved there too) added, one tanh
    call for all four gates, then σ = 0.5 tanh + 0.5 on i, f, o; and writes c = f ⊙ c_prev +
    i ⊙ g, tc = tanh(c) and h = o ⊙ tc, each (B, H)."""
    def step(g, bh, c_prev, c, tc, h):
        H = c.shape[1]
        g[:, :3 * H] *= 0.5
        g += bh
        xp.tanh(g, out=g)  # g block: tanh(a); sigmoid blocks: tanh(a / 2)
        s = g[:, :3 * H]
        s *= 0.5
        s += 0.5  # σ(a) = (1 + tanh(a / 2)) / 2
        xp.multiply(g[:, H:2 * H], c_prev, out=c)  # f ⊙ c_{t-1}
        xp.multiply(g[:, :H], g[:, 3 * H:], out=tc)  # i ⊙ g, in tc until tanh(c) is written
        c += tc
        xp.tanh(c, out=tc)
        xp.multiply(g[:, 2 * H:3 * H], tc, out=h)  # h_t = o ⊙ tanh(c_t)
    return step


def _backward_step(xp, B, H, dtype):
    """The numpy backward step, with the signature of fused/gates.py's compiled one: step(g, da, tc,
    c_prev, dh_in, dh_next, dc_next, db) writes da (B, 4H) (may be g itself: every read of g
    comes first) and dc_next (-> ∂L/∂c_{t-1}), adds da's rows into db (4H,) and returns
    ‖(∂L/∂h_t, ∂L/∂c_t)‖²; its (B, ·) scratch buffers are made once per window."""
    dh, dc, tmp = (xp.empty((B, H), dtype) for _ in range(3))
    sd = xp.empty((B, 3 * H), dtype)  # σ' of i, f, o

    def step(g, da, tc, c_prev, dh_in, dh_next, dc_next, db):
        i, f, o, gg = g[:, :H], g[:, H:2 * H], g[:, 2 * H:3 * H], g[:, 3 * H:]
        xp.add(dh_in, dh_next, out=dh)  # from the loss at t + from the future
        # ‖∂L/∂(h_t, c_t)‖ of the state as the next step receives it (dc_next = ∂L/∂c_t at fixed
        # h_t): the LSTM's memory travels in c, so h alone would hide it.
        sq = xp.vdot(dh, dh) + xp.vdot(dc_next, dc_next)
        xp.multiply(tc, tc, out=tmp)
        xp.subtract(1.0, tmp, out=tmp)
        xp.multiply(tmp, o, out=tmp)
        xp.multiply(tmp, dh, out=dc)  # through h = o ⊙ tanh(c)
        xp.add(dc, dc_next, out=dc)  # + from c_{t+1}
        s = g[:, :3 * H]
        xp.subtract(1.0, s, out=sd)
        xp.multiply(sd, s, out=sd)  # σ' = σ(1 - σ) of i, f, o
        xp.multiply(gg, gg, out=tmp)
        xp.subtract(1.0, tmp, out=tmp)
        xp.multiply(tmp, i, out=tmp)  # i ⊙ (1 - g²)
        xp.multiply(dc, f, out=dc_next)  # into c_{t-1}
        xp.multiply(dh, tc, out=da[:, 2 * H:3 * H])  # ∂/∂o
        xp.multiply(dc, c_prev, out=da[:, H:2 * H])  # ∂/∂f
        xp.multiply(dc, gg, out=da[:, :H])  # ∂/∂i
        xp.multiply(dc, tmp, out=da[:, 3 * H:])  # ∂/∂g through tanh (g's last read was above)
        da[:, :3 * H] *= sd
        db += da.sum(axis=0)
        return sq
    return step


def step(p, x, state):
    """One time step without a cache, for sampling: x (B, D) -> (h, c). The equations of forward
    written plainly (tests hold the two equal); a window's buffers and the halved weights of the
    one-tanh trick would cost more than the step itself when T = 1."""
    xp = array_module(x)
    h, c = state
    H = h.shape[1]
    a = x @ p["W_x"]  # (B, 4H)
    a += h @ p["W_h"]
    a += p["b"]
    s = sigmoid(a[:, :3 * H])  # i, f, o
    g = xp.tanh(a[:, 3 * H:])
    c = s[:, H:2 * H] * c + s[:, :H] * g
    return s[:, 2 * H:] * xp.tanh(c), c


LSTM = Cell(name="lstm", gates="ifog", state=("h", "c"), forward=forward, backward=backward,
            tanh_gates="g", forget_gate="f", activations=lambda cache: cache.G, kept=7, step=step)
