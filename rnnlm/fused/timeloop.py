"""The LSTM's, GRU's and vanilla RNN's whole time loops as numba kernels (compiled by rnnlm.fused
when MKL is in use too): each step's recurrent product is MKL's packed product called from the compiled code by
its C name (``cblas_sgemm_compute``), then the step's gate arithmetic (gates.py's kernels). Each
runs over a range of the batch's rows, all of them or a thread's block (rowsplit.py).

What it saves is the Python loop's own cost: per step a packed-product call through ctypes (the
arrays' addresses alone take 2.3 µs) and a numba dispatch, about 6 µs beside a (32, 256) @ (256,
1024) product of about 60 µs. The LSTM's and GRU's floats are the Python loop's, bit for bit (the
same calls in the same order); the RNN's Python loop is numpy's (its tanh), so those differ by
float32 rounding. The arrays are the cell's own buffers, C-contiguous (the caller checks);
``packed`` is the address of mkl.PackedProduct's copy of the matrix.
"""

import numpy as np

from numba import types

_ROW_MAJOR, _NO_TRANS, _PACKED = 101, 111, 151  # as in rnnlm/mkl.py
_i32, _ptr = types.int32, types.uintp
compute = types.ExternalFunction(  # cblas_sgemm_compute, LP64 (as rnnlm/mkl.py binds it)
    "cblas_sgemm_compute",
    types.void(_i32, _i32, _i32, _i32, _i32, _i32, _ptr, _i32, _ptr, _i32, types.float32, _ptr, _i32))
# gates.py's compiled steps, set by rnnlm.fused before build(): globals, as gates.py's tanh32
lstm_forward = lstm_backward = gru_forward = gru_backward = rnn_forward = rnn_backward = None


def build(jit):
    """{name: kernel} of the time loops, compiled with ``jit`` (the steps set beforehand)."""
    one, zero = np.float32(1.0), np.float32(0.0)

    @jit
    def lstm_forward_loop(G, bh, Cext, tanhC, Hext, packed, r0, r1):
        """cells/lstm.py's forward loop over the batch rows r0:r1 (all of them: 0, B): G (T, B,
        4H) x W_x, turned into the activations; Cext, Hext (T + 1, B, H) with c_0, h_0 in place;
        tanhC (T, B, H); packed: W_h (H, 4H), packed for r1 - r0 rows."""
        T, B, H4 = G.shape
        H = H4 // 4
        M = r1 - r0
        for t in range(T):
            g = G[t][r0:r1]
            compute(_ROW_MAJOR, _NO_TRANS, _PACKED, M, H4, H, Hext[t][r0:r1].ctypes.data, H,
                    packed, H, one, g.ctypes.data, H4)  # g += h_{t-1} W_h
            lstm_forward(g, bh, Cext[t][r0:r1], Cext[t + 1][r0:r1], tanhC[t][r0:r1],
                         Hext[t + 1][r0:r1])

    @jit
    def lstm_backward_loop(G, dA, tanhC, Cext, dHs, dh_next, dc_next, db, sq, packed, r0, r1):
        """cells/lstm.py's backward loop over the batch rows r0:r1 (dA may be G itself): db (4H,)
        the bias's gradient from these rows, added into; sq (T,) their squared step norms;
        packed: W_hᵀ (4H, H), packed for r1 - r0 rows."""
        T, B, H4 = G.shape
        H = H4 // 4
        M = r1 - r0
        dh, dc = dh_next[r0:r1], dc_next[r0:r1]
        for t in range(T - 1, -1, -1):
            sq[t] = lstm_backward(G[t][r0:r1], dA[t][r0:r1], tanhC[t][r0:r1], Cext[t][r0:r1],
                                  dHs[t][r0:r1], dh, dc, db)
            compute(_ROW_MAJOR, _NO_TRANS, _PACKED, M, H, H4, dA[t][r0:r1].ctypes.data, H4,
                    packed, H4, zero, dh.ctypes.data, H)  # into h_{t-1}

    @jit
    def gru_forward_loop(G, gh, b_hn, HN, Hext, packed, r0, r1):
        """cells/gru.py's forward loop over the batch rows r0:r1: G (T, B, 3H) the input side,
        turned into the activations; gh (B, 3H) scratch for h_{t-1} W_h; HN (T, B, H) written;
        Hext (T + 1, B, H) with h_0 in place; packed: W_h (H, 3H), r and z columns halved."""
        T, B, H3 = G.shape
        H = H3 // 3
        M = r1 - r0
        g_h = gh[r0:r1]
        for t in range(T):
            compute(_ROW_MAJOR, _NO_TRANS, _PACKED, M, H3, H, Hext[t][r0:r1].ctypes.data, H,
                    packed, H, zero, g_h.ctypes.data, H3)  # gh = h_{t-1} W_h
            gru_forward(G[t][r0:r1], g_h, b_hn, HN[t][r0:r1], Hext[t][r0:r1], Hext[t + 1][r0:r1])

    @jit
    def gru_backward_loop(G, dGX, HN, dGHn, Hext, dHs, dh_next, dgh, direct, sq, packed, r0, r1):
        """cells/gru.py's backward loop over the batch rows r0:r1 (dGX may be G, dGHn HN): dgh,
        direct (B, 3H), (B, H) scratch; sq (T,) the rows' squared step norms; packed: W_hᵀ (3H,
        H)."""
        T, B, H3 = G.shape
        H = H3 // 3
        M = r1 - r0
        dh, d_gh, dr = dh_next[r0:r1], dgh[r0:r1], direct[r0:r1]
        for t in range(T - 1, -1, -1):
            sq[t] = gru_backward(G[t][r0:r1], dGX[t][r0:r1], HN[t][r0:r1], dGHn[t][r0:r1],
                                 Hext[t][r0:r1], dHs[t][r0:r1], dh, d_gh, dr)
            compute(_ROW_MAJOR, _NO_TRANS, _PACKED, M, H, H3, d_gh.ctypes.data, H3, packed, H3,
                    zero, dh.ctypes.data, H)  # into h_{t-1}
            for b in range(M):  # + the direct path z ⊙ dh
                dhb, drb = dh[b], dr[b]
                for j in range(H):
                    dhb[j] += drb[j]

    @jit
    def rnn_forward_loop(Hext, packed, relu, r0, r1):
        """cells/rnn.py's forward loop over the batch rows r0:r1: Hext (T + 1, B, H) holds h_0,
        then x_t W_x + b, each turned into h_t; packed: W_h (H, H)."""
        T1, B, H = Hext.shape
        M = r1 - r0
        for t in range(T1 - 1):
            a = Hext[t + 1][r0:r1]
            compute(_ROW_MAJOR, _NO_TRANS, _PACKED, M, H, H, Hext[t][r0:r1].ctypes.data, H,
                    packed, H, one, a.ctypes.data, H)  # a += h_{t-1} W_h
            rnn_forward(a, relu)

    @jit
    def rnn_backward_loop(Hs, dHs, dA, dh_next, sq, packed, relu, r0, r1):
        """cells/rnn.py's backward loop over the batch rows r0:r1 (dA may be dHs itself): Hs (T,
        B, H) the outputs; sq (T,) the rows' squared step norms; packed: W_hᵀ (H, H)."""
        T, B, H = Hs.shape
        M = r1 - r0
        dh = dh_next[r0:r1]
        for t in range(T - 1, -1, -1):
            da = dA[t][r0:r1]
            sq[t] = rnn_backward(Hs[t][r0:r1], dHs[t][r0:r1], dh, da, relu)
            compute(_ROW_MAJOR, _NO_TRANS, _PACKED, M, H, H, da.ctypes.data, H, packed, H, zero,
                    dh.ctypes.data, H)  # into h_{t-1}

    return {"lstm_forward_loop": lstm_forward_loop, "lstm_backward_loop": lstm_backward_loop,
            "gru_forward_loop": gru_forward_loop, "gru_backward_loop": gru_backward_loop,
            "rnn_forward_loop": rnn_forward_loop, "rnn_backward_loop": rnn_backward_loop}
