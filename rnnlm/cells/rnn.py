"""Vanilla RNN, tanh or ReLU:  h_t = φ(x_t W_x + h_{t-1} W_h + b)."""

import numpy as np

from .common import frob, input_projection, weight_grads


def _forward(p, X, state, relu):
    (h0,) = state
    A = input_projection(X, p["W_x"], p["b"])  # (T, B, H) pre-activations, completed in the loop
    T = X.shape[0]
    Hs = np.empty_like(A)  # (T, B, H)
    W_h, h = p["W_h"], h0
    for t in range(T):
        a = A[t]
        a += h @ W_h
        h = np.maximum(a, 0, out=Hs[t]) if relu else np.tanh(a, out=Hs[t])
    return Hs, (h.copy(),), (X, h0, Hs)


def _backward(p, dHs, dstate_out, cache, relu, param_grads=True):
    X, h0, Hs = cache
    T = X.shape[0]
    W_hT = p["W_h"].T
    # φ'(a_t) for the whole window at once, before the loop; dA is then scaled in place.
    dA = (Hs > 0).astype(Hs.dtype) if relu else 1.0 - Hs * Hs  # (T, B, H)
    norms = np.empty(T)
    dh_next = dstate_out[0]
    for t in range(T - 1, -1, -1):
        dh = dHs[t] + dh_next  # from above (the loss at t) + from the future (t+1 ...)
        norms[t] = frob(dh)
        dA[t] *= dh  # gradient at the pre-activation a_t
        dh_next = dA[t] @ W_hT  # (B, H) into h_{t-1}
    dX, dW_x, dW_h, db = weight_grads(X, h0, Hs, dA, dA, p["W_x"], param_grads)
    grads = {"W_x": dW_x, "W_h": dW_h, "b": db} if param_grads else {}
    return dX, (dh_next,), grads, norms


def forward_tanh(p, X, state):
    return _forward(p, X, state, relu=False)


def backward_tanh(p, dHs, dstate_out, cache, param_grads=True):
    return _backward(p, dHs, dstate_out, cache, False, param_grads)


def forward_relu(p, X, state):
    return _forward(p, X, state, relu=True)


def backward_relu(p, dHs, dstate_out, cache, param_grads=True):
    return _backward(p, dHs, dstate_out, cache, True, param_grads)
