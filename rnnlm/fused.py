"""The LSTM's and GRU's per-step gate arithmetic, and Adam's update, each in one compiled pass
(optional: numba).

numpy makes one pass over a (B, ·) block per operation: the LSTM backward step is 14 of them, the
forward's arithmetic between its two tanh calls 5, the GRU backward step 16. With numba installed
(``pip install -e '.[fast]'`` in the rnnlm checkout) these loops are compiled once (cached on
disk) and each step is one pass. Config a (2 x LSTM 512, B 32, T 64), one thread, profiled: the
LSTM's own time in a training step 46 -> 28 ms (backward step 186 -> 77 µs); d-gru 4-5 % more
tokens/s. The tanh calls stay numpy's, which are vectorised (numba's are scalar: 15x slower).

float32 only (the training dtype); float64 (gradcheck) keeps the numpy path, the reference the
tests hold this one equal to. Off with the environment variable ``RNNLM_NUMBA=0``.
"""

import os

_kernels = None  # {name: compiled function} (see _compile), or False when unavailable / off


def _compile():
    import numba
    import numpy as np

    # No "fast" flags that assume finite values: a NaN must reach the trainer's finiteness check.
    jit = numba.njit(nogil=True, cache=True, error_model="numpy", boundscheck=False,
                     fastmath={"contract", "reassoc"})
    one, half = np.float32(1.0), np.float32(0.5)

    # Each kernel works a batch row at a time on 1-d slices, which LLVM vectorises; indexing the
    # 2-d arrays directly, or writing a gradient over the activations it reads (the training
    # step's overwrite), made it fall back to one element at a time: the LSTM backward step on
    # (32, 512) 55 -> 34 µs, the GRU's 59 -> 45 µs. A gradient meant for the activations' memory is built in a
    # one-row scratch and copied in once the row's reads are done.

    @jit
    def lstm_forward(g, c_prev, c):
        """g (B, 4H) after tanh of the halved pre-activations: i, f, o become σ = 0.5 tanh + 0.5
        in place; c (B, H) = f ⊙ c_prev + i ⊙ g."""
        B, H4 = g.shape
        H = H4 // 4
        for b in range(B):
            s, cb, cpb = g[b, :3 * H], c[b], c_prev[b]
            for j in range(3 * H):
                s[j] = half * s[j] + half
            gi, gf, gg = g[b, :H], g[b, H:2 * H], g[b, 3 * H:]
            for j in range(H):
                cb[j] = gf[j] * cpb[j] + gi[j] * gg[j]

    @jit
    def lstm_backward(g, da, tc, c_prev, dh_in, dh_next, dc_next):
        """One backward step, the equations of cells/lstm.py's loop: g (B, 4H) activations,
        tc = tanh(c_t), c_prev = c_{t-1}, dh_in the loss's gradient at h_t, dh_next and dc_next
        the gradients from t + 1 (dc_next is overwritten by ∂L/∂c_{t-1}); writes da (B, 4H), the
        gradient at the pre-activations (da may be g itself). Returns ‖(∂L/∂h_t, dc_next as
        received)‖²."""
        B, H4 = g.shape
        H = H4 // 4
        row = np.empty(H4, g.dtype)  # da's row, copied in after the row's reads of g
        di, df, do, dg = row[:H], row[H:2 * H], row[2 * H:3 * H], row[3 * H:]
        sq = np.float32(0.0)
        for b in range(B):
            gi, gf, go, gg_ = g[b, :H], g[b, H:2 * H], g[b, 2 * H:3 * H], g[b, 3 * H:]
            tcb, cpb, dhb, dnb, dcb = tc[b], c_prev[b], dh_in[b], dh_next[b], dc_next[b]
            for j in range(H):
                i, f, o, gg, t = gi[j], gf[j], go[j], gg_[j], tcb[j]
                dh = dhb[j] + dnb[j]
                dcn = dcb[j]
                sq += dh * dh + dcn * dcn
                dc = o * (one - t * t) * dh + dcn
                dcb[j] = dc * f
                di[j] = dc * gg * i * (one - i)
                df[j] = dc * cpb[j] * f * (one - f)
                do[j] = dh * t * o * (one - o)
                dg[j] = dc * i * (one - gg * gg)
            da[b, :] = row
        return sq

    @jit
    def gru_backward(g, dx, hn, dhn, h_prev, dh_in, dh_next, dgh, direct):
        """One GRU backward step, the equations of cells/gru.py's loop: g (B, 3H) activations
        r, z, n; hn = h_{t-1} W_h[n] + b_hn; dh_in the loss's gradient at h_t, dh_next from t + 1.
        Writes dx (B, 3H) (the input side's gradient; may be g itself), dhn (may be hn itself),
        dgh (B, 3H) (the gradient at h_{t-1} W_h) and direct = dh ⊙ z. Returns ‖∂L/∂h_t‖²."""
        B, H3 = g.shape
        H = H3 // 3
        sq = np.float32(0.0)
        for b in range(B):
            gr, gz, gn, hnb, hpb = g[b, :H], g[b, H:2 * H], g[b, 2 * H:], hn[b], h_prev[b]
            dhb, dnb, dirb = dh_in[b], dh_next[b], direct[b]
            er, ez, en = dgh[b, :H], dgh[b, H:2 * H], dgh[b, 2 * H:]  # dgh never aliases g
            for j in range(H):
                r, z, n = gr[j], gz[j], gn[j]
                dh = dhb[j] + dnb[j]
                sq += dh * dh
                dan = dh * (one - z) * (one - n * n)  # through n
                er[j] = dan * hnb[j] * r * (one - r)
                ez[j] = (hpb[j] - n) * dh * z * (one - z)
                en[j] = dan * r  # the reset gate scales the n block's product
                dirb[j] = dh * z
            # dx's n block is dan again, recomputed in a second pass: a fifth array written in
            # the loop above (a scratch row for it) stopped LLVM vectorising it (93 against 45 µs)
            dxn = dx[b, 2 * H:]
            for j in range(H):
                dxn[j] = (dhb[j] + dnb[j]) * (one - gz[j]) * (one - gn[j] * gn[j])
            dx[b, :2 * H] = dgh[b, :2 * H]
            dhn[b, :] = en
        return sq

    # No fast-math flags here: each operation rounds as numpy's does, in numpy's order, so the
    # update is bit for bit the numpy path's (a run resumes exactly with numba on or off).
    exact = numba.njit(nogil=True, cache=True, error_model="numpy", boundscheck=False)

    @exact
    def adam(p, g, m, v, b1, c1, b2, c2, l2, decay, step, eps):
        """Adam's update in one pass over flat float32 arrays, the operations of optim/adam.py's
        numpy path: g' = g + l2·θ (when l2), m ← b1·m + c1·g', v ← b2·v + c2·g'², θ ← θ -
        decay·θ (when decay: AdamW's), θ ← θ - step·m / (sqrt(v) + eps)."""
        for i in range(p.size):
            gi = g[i]
            if l2:
                gi = gi + l2 * p[i]
            mi = m[i] * b1 + c1 * gi
            vi = v[i] * b2 + c2 * (gi * gi)
            m[i], v[i] = mi, vi
            pi = p[i]
            if decay:
                pi = pi - decay * pi
            p[i] = pi - step * mi / (np.sqrt(vi) + eps)

    return {"lstm_forward": lstm_forward, "lstm_backward": lstm_backward,
            "gru_backward": gru_backward, "adam": adam}


def available():
    """numba installed and not switched off, without compiling anything."""
    import importlib.util
    return os.environ.get("RNNLM_NUMBA", "1") != "0" and importlib.util.find_spec("numba") is not None


def kernels(X):
    """The compiled kernels for arrays like X (numpy float32), else None (numba missing or off,
    another dtype, another array module)."""
    global _kernels
    if type(X).__module__ != "numpy" or X.dtype.char != "f":
        return None
    if _kernels is None:
        _kernels = False
        if os.environ.get("RNNLM_NUMBA", "1") != "0":
            try:
                _kernels = _compile()
            except ImportError:
                pass
    return _kernels or None
