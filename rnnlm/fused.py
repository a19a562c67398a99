"""The LSTM's and GRU's per-step gate arithmetic, the softmax's gradient, the embedding's row
scatter and Adam's update, each in one compiled pass (optional: numba).

numpy makes one pass over a (B, ·) block per operation: the LSTM backward step is 14 of them, its
forward step 8 (bias, tanh, 4 for the gates and c, tanh(c), h), the GRU backward step 16. With
numba installed (``pip install -e '.[fast]'`` in the rnnlm checkout) these loops are compiled once
(cached on disk) and each step is one pass. Config a (2 x LSTM 512, B 32, T 64), one thread,
profiled: the LSTM's own time in a training step 46 -> 28 ms (backward step 186 -> 77 µs); d-gru
4-5 % more tokens/s.

The forward steps compute tanh themselves (``tanh32``): numba's math.tanh is a scalar library
call, 15x slower than numpy's vectorised one, while a rational function is plain arithmetic LLVM
vectorises. With it the whole forward step is one pass: LSTM (32, 4 x 512) 72 -> 35 µs.

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
    inline = numba.njit(inline="always", error_model="numpy", fastmath={"contract"})
    tanh32, exp_parts = inline(_tanh32()), inline(_exp_parts())

    # Each kernel works a batch row at a time on 1-d slices, which LLVM vectorises; indexing the
    # 2-d arrays directly, or writing a gradient over the activations it reads (the training
    # step's overwrite), made it fall back to one element at a time: the LSTM backward step on
    # (32, 512) 55 -> 34 µs, the GRU's 59 -> 45 µs. A gradient meant for the activations' memory
    # is built in a one-row scratch and copied in once the row's reads are done.

    @jit
    def lstm_forward(g, bh, c_prev, c, tc, h):
        """One forward step after the recurrent product: g (B, 4H) holds the pre-activations
        without the bias, bh (4H,) the bias halved on i, f, o (cells/lstm.py). g becomes the
        activations, i, f, o = 0.5 tanh(a / 2) + 0.5 and g = tanh(a); c (B, H) = f ⊙ c_prev +
        i ⊙ g, tc = tanh(c), h = o ⊙ tc."""
        B, H4 = g.shape
        H = H4 // 4
        for b in range(B):
            s, bs = g[b, :3 * H], bh[:3 * H]
            for j in range(3 * H):
                s[j] = half * tanh32(half * s[j] + bs[j]) + half
            gi, gf, go, gg = g[b, :H], g[b, H:2 * H], g[b, 2 * H:3 * H], g[b, 3 * H:]
            bg = bh[3 * H:]
            for j in range(H):
                gg[j] = tanh32(gg[j] + bg[j])
            cb, cpb, tcb, hb = c[b], c_prev[b], tc[b], h[b]
            for j in range(H):
                cj = gf[j] * cpb[j] + gi[j] * gg[j]
                t = tanh32(cj)
                cb[j], tcb[j], hb[j] = cj, t, go[j] * t

    @jit
    def tanh(x, out):
        """out = tanh32(x) element by element, for flat float32 arrays (the tests' view of it)."""
        for i in range(x.size):
            out[i] = tanh32(x[i])

    @jit
    def lstm_backward(g, da, tc, c_prev, dh_in, dh_next, dc_next, db):
        """One backward step, the equations of cells/lstm.py's loop: g (B, 4H) activations,
        tc = tanh(c_t), c_prev = c_{t-1}, dh_in the loss's gradient at h_t, dh_next and dc_next
        the gradients from t + 1 (dc_next is overwritten by ∂L/∂c_{t-1}); writes da (B, 4H), the
        gradient at the pre-activations (da may be g itself), and adds its rows into db (4H,)
        (the bias's gradient, without a pass over the whole (T, B, 4H) array after the loop).
        Returns ‖(∂L/∂h_t, dc_next as received)‖²."""
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
            for j in range(H4):
                db[j] += row[j]
        return sq

    @jit
    def gru_forward(g, gh, b_hn, hn, h_prev, h):
        """One GRU forward step after the recurrent product, the equations of cells/gru.py's
        numpy step: g (B, 3H) the input side x W_x + b, gh (B, 3H) = h_{t-1} W_h (r, z columns
        of both halved). g becomes the activations r, z (σ = 0.5 tanh + 0.5) and n; hn (B, H) =
        gh's n block + b_hn (kept for backward); h (B, H) = n + z ⊙ (h_prev - n)."""
        B, H3 = g.shape
        H = H3 // 3
        for b in range(B):
            rz, ghb = g[b, :2 * H], gh[b]
            for j in range(2 * H):
                rz[j] = half * tanh32(rz[j] + ghb[j]) + half
            r, z, n, hnb, hpb, hb = g[b, :H], g[b, H:2 * H], g[b, 2 * H:], hn[b], h_prev[b], h[b]
            for j in range(H):
                a = ghb[2 * H + j] + b_hn[j]
                hnb[j] = a
                nj = tanh32(n[j] + r[j] * a)
                n[j] = nj
                hb[j] = nj + z[j] * (hpb[j] - nj)

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

    @jit
    def softmax_xent(Z, m, targets, denom, floor, column_sums):
        """The softmax's gradient in place, a row at a time (heads/softmax.py's numpy path):
        Z (N, C) logits with the bias added, m (N,) their row maxima -> Z = (softmax(Z) -
        onehot(targets)) / denom, whose column sums are added into column_sums (C,) (the bias's
        gradient, without another pass over Z); returns Σ -log p(target) (float64). Shifted
        logits are raised to floor before exp (see softmax.py); the target's is read before."""
        N, C = Z.shape
        bits = np.empty(C, np.int32)  # 2^k of each exp as float32 bits, read through a view
        pow2 = bits.view(np.float32)
        inv_denom = one / np.float32(denom)
        total = 0.0
        for n in range(N):
            z, mn, y = Z[n], m[n], targets[n]
            z_y = z[y] - mn
            s = np.float32(0.0)
            for j in range(C):
                a = z[j] - mn
                p, k = exp_parts(floor if a < floor else a)  # a NaN stays a NaN
                bits[j] = (np.int32(k) + 127) << 23
                e = p * pow2[j]
                z[j] = e
                s += e
            scale = one / (s * np.float32(denom))
            for j in range(C):
                e = z[j] * scale
                z[j] = e
                column_sums[j] += e
            z[y] -= inv_denom
            column_sums[y] -= inv_denom
            total += np.log(s) - z_y
        return total

    @jit
    def softmax_nll(Z, m, targets, floor, out):
        """out (N,) = -log softmax(Z)[row, target] for Z (N, C) logits with the bias added and
        m (N,) their row maxima, in one pass over Z (which is left as it was): evaluation's
        loss. Shifted logits are raised to floor before exp, the target's read before."""
        N, C = Z.shape
        bits = np.empty(C, np.int32)
        pow2 = bits.view(np.float32)
        parts = np.empty(C, np.float32)
        for n in range(N):
            z, mn = Z[n], m[n]
            for j in range(C):
                a = z[j] - mn
                p, k = exp_parts(floor if a < floor else a)  # a NaN stays a NaN
                bits[j] = (np.int32(k) + 127) << 23
                parts[j] = p
            s = np.float32(0.0)
            for j in range(C):
                s += parts[j] * pow2[j]
            out[n] = np.log(s) - (z[targets[n]] - mn)

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

    @exact
    def scatter_rows(target, ids, values):
        """target[ids[i]] += values[i] for i = 0, 1, ... in order (np.add.at's meaning and
        order, so the same floats): target (V, D), ids (N,) all in [0, V), values (N, D)."""
        for i in range(ids.size):
            t, v = target[ids[i]], values[i]
            for j in range(v.size):
                t[j] += v[j]

    return {"lstm_forward": lstm_forward, "lstm_backward": lstm_backward,
            "gru_forward": gru_forward, "gru_backward": gru_backward, "softmax_xent": softmax_xent, "softmax_nll": softmax_nll,
            "scatter_rows": scatter_rows, "adam": adam, "tanh": tanh}


# tanh(x) ≈ x·P(x²) / Q(x²) on [-9, 9], P and Q of degree 4 (Q's constant term 1), fitted by us
# (benchmarks/fit_tanh.py: least squares on the relative error, reweighted towards the largest,
# Lawson's iteration): relative error 2.1e-8 in exact arithmetic, at most 6 units in the last
# place evaluated in float32 (numpy's own tanh: 1.4). Beyond ±9 tanh rounds to ±1 in float32.
TANH_P = (0.9999999795476957, 0.1338101232242981, 0.003495569455056275, 2.0608663111814804e-05,
          1.335389545432459e-08)
TANH_Q = (1.0, 0.4671432797873088, 0.02587691863434735, 0.0003285599341424288,
          7.776282254069624e-07)


def _tanh32():
    """The scalar function tanh32(x) for float32 x, plain arithmetic (no library call), for numba
    to inline and vectorise. NaN stays NaN (every comparison with it is false)."""
    import numpy as np
    p0, p1, p2, p3, p4 = (np.float32(v) for v in TANH_P)
    q1, q2, q3, q4 = (np.float32(v) for v in TANH_Q[1:])
    one, edge = np.float32(1.0), np.float32(9.0)

    def tanh32(x):
        a = edge if x > edge else (-edge if x < -edge else x)  # large |x|: no overflow in a⁸
        s = a * a
        y = a * ((((p4 * s + p3) * s + p2) * s + p1) * s + p0) / (
            (((q4 * s + q3) * s + q2) * s + q1) * s + one)
        return one if y > one else (-one if y < -one else y)
    return tanh32


def _exp_parts():
    """The scalar function exp_parts(x) -> (p, k) with exp(x) = p·2^k for float32 x in
    [-126 ln 2, 0], plain arithmetic for numba to inline and vectorise (the caller builds 2^k
    from its bits): k = x / ln 2 rounded to nearest (adding and subtracting 1.5·2^23 rounds a
    float32), r = x - k ln 2 with ln 2 in two parts (the first exact in few bits, so k·ln2_hi
    is exact), |r| ≤ ln 2 / 2, and p = exp(r) by its Taylor series to r⁷ (truncation below
    6e-9)."""
    import math

    import numpy as np
    log2e, ln2_hi, ln2_lo = np.float32(1 / math.log(2)), np.float32(0.693359375), np.float32(
        math.log(2) - 0.693359375)
    rounder, one = np.float32(1.5 * 2 ** 23), np.float32(1.0)
    c2, c3, c4, c5, c6, c7 = (np.float32(1 / math.factorial(n)) for n in range(2, 8))

    def exp_parts(x):
        k = (x * log2e + rounder) - rounder
        r = (x - k * ln2_hi) - k * ln2_lo
        p = ((((((c7 * r + c6) * r + c5) * r + c4) * r + c3) * r + c2) * r + one) * r + one
        return p, k
    return exp_parts


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
