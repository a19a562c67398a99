"""Vanilla RNN, tanh or ReLU:  h_t = φ(x_t W_x + h_{t-1} W_h + b).

The input projection is written straight into the output buffer and completed there step by step
(no separate pre-activation array); no allocation per step; W_hᵀ contiguous in the backward,
φ' taken step by step, and with ``overwrite=True`` dA written over the incoming gradient dHs
(the training step owns it: it is the layer above's dX or the head's) and dX over the spent
outputs Hs where the shapes agree.
"""

from typing import NamedTuple

from rnnlm.backend import array_module

from .base import Cell
from .common import input_projection, loop_product, run_compiled, weight_grads


class RNNCache(NamedTuple):
    X: object  # (T, B, D) the window's inputs, or a Lookup of them (layers.py)
    Hext: object  # (T + 1, B, H) h_0 (carried in), then h_t = φ(a_t)


def _forward(p, X, state, relu):
    xp = array_module(p["W_h"])  # X may be a Lookup (layers.py), not an array
    (h0,) = state
    T, B, _ = X.shape
    H = h0.shape[1]
    Hext = xp.empty((T + 1, B, H), X.dtype)
    Hext[0] = h0
    input_projection(X, p["W_x"], p["b"], out=Hext[1:])  # a_t without the recurrent part
    W_h, blocks = loop_product(xp, Hext, p["W_h"])  # h_{t-1} W_h; each thread's rows
    if not run_compiled("rnn_forward_loop", W_h, blocks, (Hext,),  # numba's tanh
                        lambda r0, r1: (Hext, W_h.address, relu, r0, r1)):
        for t in range(T):
            a = Hext[t + 1]
            W_h(Hext[t], a, accumulate=True)  # a += h_{t-1} W_h
            xp.maximum(a, 0, out=a) if relu else xp.tanh(a, out=a)
    Hs = Hext[1:]
    return Hs, (Hs[-1].copy(),), RNNCache(X, Hext)


def _backward(p, dHs, dstate_out, cache, relu, grads=None, prefix="", overwrite=False):
    xp = array_module(dHs)
    Hext = cache.Hext
    Hs = Hext[1:]
    T, B, _ = Hs.shape
    W_hT, blocks = loop_product(xp, Hext, p["W_h"], transpose=True)  # dA_t W_hᵀ
    dA = dHs if overwrite else xp.empty_like(Hs)  # (T, B, H) gradient at the pre-activations
    sq = xp.zeros(T)  # ‖∂L/∂h_t‖², kept on the device until the window is done
    dh_next = xp.array(dstate_out[0], copy=True)
    if not run_compiled("rnn_backward_loop", W_hT, blocks, (Hs, dHs, dA, dh_next),
                        lambda r0, r1, sq: (Hs, dHs, dA, dh_next, sq, W_hT.address, relu, r0,
                                            r1), sums=(sq,)):
        dh, slope = xp.empty_like(dh_next), xp.empty_like(dh_next)
        for t in range(T - 1, -1, -1):
            xp.add(dHs[t], dh_next, out=dh)  # from above (the loss at t) + from t + 1 on
            sq[t] = xp.vdot(dh, dh)  # Σ dh², one BLAS dot, stays an array
            if relu:
                xp.greater(Hs[t], 0, out=slope, casting="unsafe")  # φ'(a_t): 1 where h_t > 0
            else:
                xp.multiply(Hs[t], Hs[t], out=slope)
                xp.subtract(1.0, slope, out=slope)  # φ'(a_t) = 1 - h_t²
            xp.multiply(dh, slope, out=dA[t])
            W_hT(dA[t], dh_next)  # (B, H) into h_{t-1}
    del W_hT  # its packed copy (MKL) is freed before weight_grads allocates
    # With overwrite the cache is spent once dW_h has read h_0 .. h_{T-1}: dX goes into Hs when
    # it has Hs's shape (D = H, every layer above the first) instead of a new (T, B, H) array.
    dX = weight_grads(cache.X, Hext[:-1], dA, dA, p["W_x"], grads, prefix,
                      Hs if overwrite else None)
    return dX, (dh_next,), xp.sqrt(sq)


def _step(p, x, state, relu):
    """One time step without a cache, for sampling: x (B, D) -> (h,)."""
    a = x @ p["W_x"]
    a += state[0] @ p["W_h"]
    a += p["b"]
    xp = array_module(x)
    return (xp.maximum(a, 0, out=a) if relu else xp.tanh(a, out=a),)


def _cell(name, relu):
    return Cell(name=name, gates="h", state=("h",), relu=relu, tanh_gates="" if relu else "h",
                forward=lambda p, X, state: _forward(p, X, state, relu),
                backward=lambda p, dHs, dstate_out, cache, grads=None, prefix="", overwrite=False:
                    _backward(p, dHs, dstate_out, cache, relu, grads, prefix, overwrite),
                activations=lambda cache: cache.Hext[1:],
                step=lambda p, x, state: _step(p, x, state, relu))


TANH = _cell("rnn_tanh", relu=False)
RELU = _cell("rnn_relu", relu=True)
