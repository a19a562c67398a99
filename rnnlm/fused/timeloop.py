"""The LSTM's whole time loop as numba kernels (compiled by rnnlm.fused when MKL is in use too):
each step's recurrent product is MKL's packed product called from the compiled code by its C name
(``cblas_sgemm_compute``), then the step's gate arithmetic (gates.py's kernels).

What it saves is the Python loop's own cost: per step a packed-product call through ctypes (the
arrays' addresses alone take 2.3 µs) and a numba dispatch, about 6 µs beside a (32, 256) @ (256,
1024) product of about 60 µs. The floats are the Python loop's, bit for bit (the same calls in
the same order). The arrays are the cell's own buffers, C-contiguous (the caller checks);
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
lstm_forward = lstm_backward = None


def build(jit):
    """{name: kernel} of the time loops, compiled with ``jit`` (the steps set beforehand)."""
    one, zero = np.float32(1.0), np.float32(0.0)

    @jit
    def lstm_forward_loop(G, bh, Cext, tanhC, Hext, packed):
        """cells/lstm.py's forward loop: G (T, B, 4H) x W_x, turned into the activations; Cext,
        Hext (T + 1, B, H) with c_0, h_0 in place; tanhC (T, B, H); packed: W_h (H, 4H)."""
        T, B, H4 = G.shape
        H = H4 // 4
        for t in range(T):
            g = G[t]
            compute(_ROW_MAJOR, _NO_TRANS, _PACKED, B, H4, H, Hext[t].ctypes.data, H, packed, H,
                    one, g.ctypes.data, H4)  # g += h_{t-1} W_h
            lstm_forward(g, bh, Cext[t], Cext[t + 1], tanhC[t], Hext[t + 1])

    @jit
    def lstm_backward_loop(G, dA, tanhC, Cext, dHs, dh_next, dc_next, db, sq, packed):
        """cells/lstm.py's backward loop (dA may be G itself): db (4H,) the bias's gradient,
        added into; sq (T,) the squared step norms; packed: W_hᵀ (4H, H)."""
        T, B, H4 = G.shape
        H = H4 // 4
        for t in range(T - 1, -1, -1):
            sq[t] = lstm_backward(G[t], dA[t], tanhC[t], Cext[t], dHs[t], dh_next, dc_next, db)
            compute(_ROW_MAJOR, _NO_TRANS, _PACKED, B, H, H4, dA[t].ctypes.data, H4, packed, H4,
                    zero, dh_next.ctypes.data, H)  # into h_{t-1}

    return {"lstm_forward_loop": lstm_forward_loop, "lstm_backward_loop": lstm_backward_loop}
