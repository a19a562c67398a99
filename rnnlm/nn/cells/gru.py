"""GRU, fused gates in the order [r, z, n], PyTorch's variant (equations in cells/__init__.py).

The reset gate multiplies ``h_{t-1} W_h[n] + b_hn`` after the product, so the recurrent product of
all three blocks stays one fused matrix product per step.
"""

from typing import NamedTuple

from rnnlm.backend import array_module

from ..functional import add_grad, sigmoid
from .base import Cell
from .common import input_projection, weight_grads


class GRUCache(NamedTuple):
    X: object  # (T, B, D) the window's inputs
    h0: object  # (B, H) the carried state
    G: object  # (T, B, 3H) activations r, z, n
    HN: object  # (T, B, H) h_{t-1} W_h[n] + b_hn
    Hs: object  # (T, B, H)


def forward(p, X, state):
    xp = array_module(X)
    (h0,) = state
    GX = input_projection(X, p["W_x"], p["b"])  # (T, B, 3H) input side of every block
    T, B, H3 = GX.shape
    H = H3 // 3
    G = xp.empty_like(GX)  # (T, B, 3H) activations r, z, n
    HN = xp.empty((T, B, H), GX.dtype)  # h_{t-1} W_h[n] + b_hn, kept for backward
    Hs = xp.empty_like(HN)
    W_h, b_hn, h = p["W_h"], p["b_hn"], h0
    for t in range(T):
        gh = h @ W_h  # (B, 3H)
        g, gx = G[t], GX[t]
        sigmoid(xp.add(gx[:, :2 * H], gh[:, :2 * H], out=g[:, :2 * H]), out=g[:, :2 * H])
        hn = xp.add(gh[:, 2 * H:], b_hn, out=HN[t])
        n = xp.multiply(g[:, :H], hn, out=g[:, 2 * H:])  # r ⊙ hn
        n += gx[:, 2 * H:]
        xp.tanh(n, out=n)
        z = g[:, H:2 * H]
        hs = xp.subtract(h, n, out=Hs[t])  # h_t = n + z ⊙ (h_{t-1} - n)
        hs *= z
        hs += n
        h = hs
    return Hs, (h.copy(),), GRUCache(X, h0, G, HN, Hs)


def backward(p, dHs, dstate_out, cache, grads=None, prefix=""):
    xp = array_module(dHs)
    X, h0, G, HN, Hs = cache
    T, B, H3 = G.shape
    H = H3 // 3
    W_hT = p["W_h"].T
    dGX = xp.empty_like(G)  # (T, B, 3H) gradient at the input-side pre-activations
    dGH = xp.empty_like(G)  # (T, B, 3H) gradient at h_{t-1} W_h (differs in the n block)
    sq = xp.empty(T)  # ‖∂L/∂h_t‖², kept on the device until the window is done
    (dh_next,) = dstate_out
    for t in range(T - 1, -1, -1):
        g = G[t]
        r, z, n = g[:, :H], g[:, H:2 * H], g[:, 2 * H:]
        h_prev = Hs[t - 1] if t > 0 else h0
        dh = dHs[t] + dh_next
        sq[t] = xp.vdot(dh, dh)  # Σ dh², one BLAS dot, stays an array
        dx, dg = dGX[t], dGH[t]
        dan = xp.multiply(dh * (1.0 - z), 1.0 - n * n, out=dx[:, 2 * H:])  # through tanh of n
        xp.multiply(dan, HN[t], out=dx[:, :H])  # ∂/∂r
        xp.multiply(dh, h_prev - n, out=dx[:, H:2 * H])  # ∂/∂z
        s = g[:, :2 * H]
        dx[:, :2 * H] *= s * (1.0 - s)  # σ' for r and z together
        dg[:, :2 * H] = dx[:, :2 * H]
        xp.multiply(dan, r, out=dg[:, 2 * H:])  # the reset gate scales the n block's product
        dh_next = dg @ W_hT
        dh_next += dh * z  # the direct path h_t = ... + z ⊙ h_{t-1}
    dX = weight_grads(X, h0, Hs, dGX, dGH, p["W_x"], grads, prefix)
    if grads is not None:
        add_grad(grads, prefix + "b_hn", dGH[:, :, 2 * H:].sum(axis=(0, 1)))
    return dX, (dh_next,), xp.sqrt(sq)


GRU = Cell(name="gru", gates="rzn", state=("h",), forward=forward, backward=backward,
           tanh_gates="n", extra_params={"b_hn": 1}, activations=lambda cache: cache.G, kept=5)
