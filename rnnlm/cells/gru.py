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


def backward(p, dHs, dstate_out, cache):
    X, h0, G, HN, Hs = cache
    T, B, H3 = G.shape
    H = H3 // 3
    W_hT = p["W_h"].T
    r, z, n = G[:, :, :H], G[:, :, H:2 * H], G[:, :, 2 * H:]  # (T, B, H) each
    H_prev = np.concatenate([h0[None], Hs[:-1]])  # (T, B, H) h_{t-1}
    # Every pre-activation gradient is dh_t times a local factor that does not depend on the
    # gradient flowing back, so the factors are computed for the whole window before the loop:
    #   n:  dh (1 - z) tanh'(n)               (input side and, times r, the hidden product)
    #   r:  dh (1 - z) tanh'(n) hn σ'(r)
    #   z:  dh (h_{t-1} - n) σ'(z)
    PX = np.empty_like(G)  # (T, B, 3H) factors at the input-side pre-activations [r, z, n]
    pn = PX[:, :, 2 * H:]
    np.multiply(1.0 - z, 1.0 - n * n, out=pn)
    np.multiply(pn * HN, r * (1.0 - r), out=PX[:, :, :H])
    np.multiply(H_prev - n, z * (1.0 - z), out=PX[:, :, H:2 * H])
    PH = PX.copy()  # factors at the recurrent product h_{t-1} W_h: the reset gate scales n's
    PH[:, :, 2 * H:] *= r
    DH = np.empty_like(Hs)  # (T, B, H) ∂L/∂h_t
    norms = np.empty(T)
    (dh_next,) = dstate_out
    for t in range(T - 1, -1, -1):
        dh = np.add(dHs[t], dh_next, out=DH[t])
        norms[t] = frob(dh)
        dg = (PH[t].reshape(B, 3, H) * dh[:, None, :]).reshape(B, H3)
        dh_next = dg @ W_hT
        dh_next += dh * z[t]  # the direct path h_t = ... + z ⊙ h_{t-1}
    PX.reshape(T, B, 3, H)[...] *= DH[:, :, None, :]  # now the gradients themselves
    PH.reshape(T, B, 3, H)[...] *= DH[:, :, None, :]
    dX, dW_x, dW_h, db = weight_grads(X, h0, Hs, PX, PH, p["W_x"])
    db_hn = PH[:, :, 2 * H:].sum(axis=(0, 1))
    return dX, (dh_next,), {"W_x": dW_x, "W_h": dW_h, "b": db, "b_hn": db_hn}, norms
