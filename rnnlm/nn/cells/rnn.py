"""Vanilla RNN, tanh or ReLU:  h_t = φ(x_t W_x + h_{t-1} W_h + b)."""

from typing import NamedTuple

from rnnlm.backend import array_module

from .base import Cell
from .common import input_projection, weight_grads


class RNNCache(NamedTuple):
    X: object  # (T, B, D) the window's inputs
    h0: object  # (B, H) the carried state
    Hs: object  # (T, B, H) h_t = φ(a_t)


def _forward(p, X, state, relu):
    xp = array_module(X)
    (h0,) = state
    A = input_projection(X, p["W_x"], p["b"])  # (T, B, H) pre-activations, completed in the loop
    T = X.shape[0]
    Hs = xp.empty_like(A)  # (T, B, H)
    W_h, h = p["W_h"], h0
    for t in range(T):
        a = A[t]
        a += h @ W_h
        h = xp.maximum(a, 0, out=Hs[t]) if relu else xp.tanh(a, out=Hs[t])
    return Hs, (h.copy(),), RNNCache(X, h0, Hs)


def _backward(p, dHs, dstate_out, cache, relu, grads=None, prefix=""):
    xp = array_module(dHs)
    Hs = cache.Hs
    T = Hs.shape[0]
    W_hT = p["W_h"].T
    # φ'(a_t) for the whole window at once, before the loop; dA is then scaled in place.
    dA = (Hs > 0).astype(Hs.dtype) if relu else 1.0 - Hs * Hs  # (T, B, H)
    sq = xp.empty(T)  # ‖∂L/∂h_t‖², kept on the device until the window is done
    dh_next = dstate_out[0]
    for t in range(T - 1, -1, -1):
        dh = dHs[t] + dh_next  # from above (the loss at t) + from the future (t+1 ...)
        sq[t] = xp.vdot(dh, dh)  # Σ dh², one BLAS dot, stays an array
        dA[t] *= dh  # gradient at the pre-activation a_t
        dh_next = dA[t] @ W_hT  # (B, H) into h_{t-1}
    dX = weight_grads(cache.X, cache.h0, Hs, dA, dA, p["W_x"], grads, prefix)
    return dX, (dh_next,), xp.sqrt(sq)


def _cell(name, relu):
    return Cell(name=name, gates="h", state=("h",), relu=relu, tanh_gates="" if relu else "h",
                forward=lambda p, X, state: _forward(p, X, state, relu),
                backward=lambda p, dHs, dstate_out, cache, grads=None, prefix="":
                    _backward(p, dHs, dstate_out, cache, relu, grads, prefix),
                activations=lambda cache: cache.Hs)


TANH = _cell("rnn_tanh", relu=False)
RELU = _cell("rnn_relu", relu=True)
