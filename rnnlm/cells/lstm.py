"""LSTM, fused gates in the order [i, f, o, g] (equations in cells/__init__.py)."""

import numpy as np

from .common import frob, input_projection, sigmoid, weight_grads


def forward(p, X, state):
    h0, c0 = state
    A = input_projection(X, p["W_x"], p["b"])  # (T, B, 4H) pre-activations
    T, B, H4 = A.shape
    H = H4 // 4
    G = np.empty_like(A)  # (T, B, 4H) activations: i, f, o sigmoid; g tanh
    Cs = np.empty((T, B, H), A.dtype)  # cell states c_t
    tanhC = np.empty_like(Cs)  # tanh(c_t), kept for backward
    Hs = np.empty_like(Cs)  # (T, B, H)
    W_h, h, c = p["W_h"], h0, c0
    for t in range(T):
        a = A[t]
        a += h @ W_h
        g = G[t]
        sigmoid(a[:, :3 * H], out=g[:, :3 * H])
        np.tanh(a[:, 3 * H:], out=g[:, 3 * H:])
        c = np.multiply(g[:, H:2 * H], c, out=Cs[t])  # f ⊙ c_{t-1}
        c += g[:, :H] * g[:, 3 * H:]  # + i ⊙ g
        np.tanh(c, out=tanhC[t])
        h = np.multiply(g[:, 2 * H:3 * H], tanhC[t], out=Hs[t])  # o ⊙ tanh(c_t)
    return Hs, (h.copy(), c.copy()), (X, h0, c0, G, Cs, tanhC, Hs)


def backward(p, dHs, dstate_out, cache):
    X, h0, c0, G, Cs, tanhC, Hs = cache
    T, B, H4 = G.shape
    H = H4 // 4
    W_hT = p["W_h"].T
    # Everything that does not depend on the gradient flowing back is computed for the whole
    # window at once, before the loop (a few large vectorised passes instead of many small ones).
    # dA holds these local factors and is then scaled in place, step by step:
    #   da_i = dc ⊙ g σ'(i),  da_f = dc ⊙ c_{t-1} σ'(f),  da_o = dh ⊙ tanh(c_t) σ'(o),
    #   da_g = dc ⊙ i tanh'(g)
    dA = np.empty_like(G)  # (T, B, 4H)
    s = G[:, :, :3 * H]
    np.multiply(s, 1.0 - s, out=dA[:, :, :3 * H])  # σ' = σ(1 - σ) of i, f, o together
    dA[:, :, :H] *= G[:, :, 3 * H:]
    dA[0, :, H:2 * H] *= c0
    dA[1:, :, H:2 * H] *= Cs[:-1]
    dA[:, :, 2 * H:3 * H] *= tanhC
    gg = G[:, :, 3 * H:]
    np.multiply(G[:, :, :H], 1.0 - gg * gg, out=dA[:, :, 3 * H:])
    Q = G[:, :, 2 * H:3 * H] * (1.0 - tanhC * tanhC)  # (T, B, H) ∂h_t/∂c_t = o ⊙ tanh'(c_t)
    F = G[:, :, H:2 * H]  # (T, B, H) forget gates: ∂c_t/∂c_{t-1}
    norms = np.empty(T)
    dh_next, dc_next = dstate_out
    for t in range(T - 1, -1, -1):
        dh = dHs[t] + dh_next  # from the loss at t + from the future
        # ‖∂L/∂(h_t, c_t)‖ of the state as the next step receives it (dc_next = ∂L/∂c_t at fixed
        # h_t): the LSTM's memory travels in c, so h alone would hide it.
        norms[t] = np.hypot(frob(dh), frob(dc_next))
        dc = dh * Q[t]
        dc += dc_next  # ∂L/∂c_t in all: through h_t and from c_{t+1}
        da = dA[t].reshape(B, 4, H)  # blocks i, f, o, g
        da[:, :2] *= dc[:, None, :]
        da[:, 2] *= dh
        da[:, 3] *= dc
        dc_next = dc * F[t]  # into c_{t-1}
        dh_next = dA[t] @ W_hT  # into h_{t-1}
    dX, dW_x, dW_h, db = weight_grads(X, h0, Hs, dA, dA, p["W_x"])
    return dX, (dh_next, dc_next), {"W_x": dW_x, "W_h": dW_h, "b": db}, norms
