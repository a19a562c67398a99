"""The cells' per-step arithmetic as numba kernels (compiled by rnnlm.fused): the LSTM's forward
and backward step, the GRU's, the vanilla RNN's (for the compiled time loop), and the compiled
tanh over an array (for the tests)."""

import numpy as np


# The inlined scalar tanh, set by rnnlm.fused before build(): a module global, not an argument,
# since numba's disk cache keys a kernel on the values its closure holds, and a compiled function
# held there is a new object in every process (each would compile afresh and add a cache file).
tanh32 = None


def build(jit):
    """{name: kernel} of the cells' steps, compiled with ``jit`` (tanh32 set beforehand)."""
    zero, one, half = np.float32(0.0), np.float32(1.0), np.float32(0.5)

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
    def rnn_forward(a, relu):
        """One vanilla RNN forward step after the recurrent product: a (B, H), x W_x + b + h_{t-1}
        W_h, becomes h_t = φ(a) in place: tanh32, or ReLU (a NaN stays NaN, as numpy's maximum
        keeps it)."""
        B, H = a.shape
        for b in range(B):
            row = a[b]
            if relu:
                for j in range(H):
                    row[j] = zero if row[j] < zero else row[j]
            else:
                for j in range(H):
                    row[j] = tanh32(row[j])

    @jit
    def rnn_backward(h, dh_in, dh_next, da, relu):
        """One vanilla RNN backward step, cells/rnn.py's loop: h (B, H) = h_t, dh_in the loss's
        gradient at h_t, dh_next from t + 1; writes da = (dh_in + dh_next) ⊙ φ'(a_t), φ' = 1 - h²
        (tanh) or [h > 0] (ReLU), and may be dh_in itself. Returns ‖∂L/∂h_t‖²."""
        B, H = h.shape
        sq = np.float32(0.0)
        for b in range(B):
            hb, ib, nb, ab = h[b], dh_in[b], dh_next[b], da[b]
            if relu:
                for j in range(H):
                    d = ib[j] + nb[j]
                    sq += d * d
                    ab[j] = d * (one if hb[j] > zero else zero)
            else:
                for j in range(H):
                    d = ib[j] + nb[j]
                    sq += d * d
                    ab[j] = d * (one - hb[j] * hb[j])
        return sq

    return {"lstm_forward": lstm_forward, "lstm_backward": lstm_backward,
            "gru_forward": gru_forward, "gru_backward": gru_backward,
            "rnn_forward": rnn_forward, "rnn_backward": rnn_backward, "tanh": tanh}
