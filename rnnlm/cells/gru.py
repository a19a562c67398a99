"""GRU, fused gates in the order [r, z, n], PyTorch's variant (equations in cells/__init__.py).

The reset gate multiplies ``h_{t-1} W_h[n] + b_hn`` after the product, so the recurrent product of
all three blocks stays one fused matrix product per step.
"""

import numpy as np

from .common import frob, input_projection, sigmoid, weight_grads


def forward(p, X, state):
    (h0,) = state
    GX = input_projection(X, p["W_x"], p["b"])  # (T, B, 3H) input side of every block
    T, B, H3 = GX.shape
    H = H3 // 3
    G = np.empty_like(GX)  # (T, B, 3H) activations r, z, n
    HN = np.empty((T, B, H), GX.dtype)  # h_{t-1} W_h[n] + b_hn, kept for backward
    Hs = np.empty_like(HN)
    W_h, b_hn, h = p["W_h"], p["b_hn"], h0
    for t in range(T):
        gh = h @ W_h  # (B, 3H)
        g, gx = G[t], GX[t]
        sigmoid(np.add(gx[:, :2 * H], gh[:, :2 * H], out=g[:, :2 * H]), out=g[:, :2 * H])
        hn = np.add(gh[:, 2 * H:], b_hn, out=HN[t])
        n = np.multiply(g[:, :H], hn, out=g[:, 2 * H:])  # r ⊙ hn
        n += gx[:, 2 * H:]
        np.tanh(n, out=n)
        z = g[:, H:2 * H]
        hs = np.subtract(h, n, out=Hs[t])  # h_t = n + z ⊙ (h_{t-1} - n)
        hs *= z
        hs += n
        h = hs
    return Hs, (h.copy(),), (X, h0, G, HN, Hs)


def backward(p, dHs, dstate_out, cache, param_grads=True):
    X, h0, G, HN, Hs = cache
    T, B, H3 = G.shape
    H = H3 // 3
    W_hT = p["W_h"].T
    dGX = np.empty_like(G)  # (T, B, 3H) gradient at the input-side pre-activations
    dGH = np.empty_like(G)  # (T, B, 3H) gradient at h_{t-1} W_h (differs in the n block)
    norms = np.empty(T)
    (dh_next,) = dstate_out
    for t in range(T - 1, -1, -1):
        g = G[t]
        r, z, n = g[:, :H], g[:, H:2 * H], g[:, 2 * H:]
        h_prev = Hs[t - 1] if t > 0 else h0
        dh = dHs[t] + dh_next
        norms[t] = frob(dh)
        dx, dg = dGX[t], dGH[t]
        dan = np.multiply(dh * (1.0 - z), 1.0 - n * n, out=dx[:, 2 * H:])  # through tanh of n
        np.multiply(dan, HN[t], out=dx[:, :H])  # ∂/∂r
        np.multiply(dh, h_prev - n, out=dx[:, H:2 * H])  # ∂/∂z
        s = g[:, :2 * H]
        dx[:, :2 * H] *= s * (1.0 - s)  # σ' for r and z together
        dg[:, :2 * H] = dx[:, :2 * H]
        np.multiply(dan, r, out=dg[:, 2 * H:])  # the reset gate scales the n block's product
        dh_next = dg @ W_hT
        dh_next += dh * z  # the direct path h_t = ... + z ⊙ h_{t-1}
    dX, dW_x, dW_h, db = weight_grads(X, h0, Hs, dGX, dGH, p["W_x"], param_grads)
    if not param_grads:
        return dX, (dh_next,), {}, norms
    db_hn = dGH[:, :, 2 * H:].sum(axis=(0, 1))
    return dX, (dh_next,), {"W_x": dW_x, "W_h": dW_h, "b": db, "b_hn": db_hn}, norms
