"""Scratch: levers for the LSTM's per-step work (one layer's time loop, forward + backward).

    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/lstm_levers.py 32 256 64   # B H T
    OPENBLAS_NUM_THREADS=2 .venv/bin/python benchmarks/lstm_levers.py 32 256 64 --threads 2

Only the recurrent loops are timed: the input projection and the weight-gradient products after
the loop are the same in every variant. Variants, timed alternately, each checked against base:

  base     the loops as rnnlm/cells/lstm.py runs them today (same operations, re-typed here)
  split    base, with the matrix products and the gate arithmetic timed apart (where time goes)
  fewer    fewer, larger numpy calls: forward takes one tanh over all 4H columns (σ(x) =
           (1 + tanh(x/2)) / 2, the sigmoid blocks' inputs pre-halved), backward precomputes
           every derivative factor for the whole window before the loop (vectorized over T), so
           the loop keeps 6 elementwise calls and one product per step
  halves   `fewer` on the two halves of the batch in two Python threads (BLAS 1 thread each;
           numpy and BLAS release the GIL); only meaningful with --threads 2

Not part of the package; nothing here is imported by rnnlm.
"""

import sys
import threading
import time

import numpy as np

B, H, T = (int(a) for a in sys.argv[1:4]) if len(sys.argv) > 3 else (32, 256, 64)
THREADS = int(sys.argv[sys.argv.index("--threads") + 1]) if "--threads" in sys.argv else 1
f32 = np.float32


def sigmoid(x, out):
    np.negative(x, out=out)
    np.minimum(out, 80.0, out=out)
    np.exp(out, out=out)
    out += 1.0
    return np.reciprocal(out, out=out)


def base(A0, W_h, h0, c0, dHs, clock=None):
    """Forward then backward of the loop, today's operations. clock: [matmul s, elementwise s]."""
    tick = time.perf_counter
    A = A0.copy()
    G = np.empty_like(A)
    Cs, tanhC, Hs = (np.empty((T, B, H), f32) for _ in range(3))
    h, c = h0, c0
    for t in range(T):
        t0 = tick()
        a = A[t]
        a += h @ W_h
        t1 = tick()
        g = G[t]
        sigmoid(a[:, :3 * H], out=g[:, :3 * H])
        np.tanh(a[:, 3 * H:], out=g[:, 3 * H:])
        c = np.multiply(g[:, H:2 * H], c, out=Cs[t])
        c += g[:, :H] * g[:, 3 * H:]
        np.tanh(c, out=tanhC[t])
        h = np.multiply(g[:, 2 * H:3 * H], tanhC[t], out=Hs[t])
        if clock:
            t2 = tick()
            clock[0] += t1 - t0
            clock[1] += t2 - t1
    W_hT = W_h.T
    dA = np.empty_like(G)
    dh_next, dc_next = np.zeros((B, H), f32), np.zeros((B, H), f32)
    for t in range(T - 1, -1, -1):
        t0 = tick()
        g = G[t]
        i, f, o, gg = g[:, :H], g[:, H:2 * H], g[:, 2 * H:3 * H], g[:, 3 * H:]
        tc = tanhC[t]
        c_prev = Cs[t - 1] if t > 0 else c0
        dh = dHs[t] + dh_next
        np.hypot(np.sqrt(np.dot(dh.ravel(), dh.ravel())), np.sqrt(np.dot(dc_next.ravel(),
                                                                        dc_next.ravel())))
        dc = dh * o
        dc *= 1.0 - tc * tc
        dc += dc_next
        da = dA[t]
        np.multiply(dc, gg, out=da[:, :H])
        np.multiply(dc, c_prev, out=da[:, H:2 * H])
        np.multiply(dh, tc, out=da[:, 2 * H:3 * H])
        s = g[:, :3 * H]
        da[:, :3 * H] *= s * (1.0 - s)
        np.multiply(dc * i, 1.0 - gg * gg, out=da[:, 3 * H:])
        dc_next = dc * f
        t1 = tick()
        dh_next = da @ W_hT
        if clock:
            clock[1] += t1 - t0
            clock[0] += tick() - t1
    return Hs, dA, dh_next, dc_next


def fewer(A0, W_h, h0, c0, dHs):
    """Same results with fewer, larger numpy calls (see the module docstring)."""
    b, _ = h0.shape
    half = np.ones(4 * H, f32)
    half[:3 * H] = 0.5  # σ(x) = (1 + tanh(x/2)) / 2: halve the sigmoid blocks' inputs
    A = A0 * half  # (done once per window: in a real cell, fold into W_x, b and W_h)
    W_hs = W_h * half
    G = np.empty_like(A)
    Cs, tanhC, Hs = (np.empty((T, b, H), f32) for _ in range(3))
    h, c = h0, c0
    for t in range(T):
        a = A[t]
        a += h @ W_hs
        g = np.tanh(a, out=G[t])  # one call over all four blocks
        s = g[:, :3 * H]
        s *= 0.5
        s += 0.5
        c = np.multiply(g[:, H:2 * H], c, out=Cs[t])
        c += g[:, :H] * g[:, 3 * H:]
        np.tanh(c, out=tanhC[t])
        h = np.multiply(g[:, 2 * H:3 * H], tanhC[t], out=Hs[t])
    # Backward: every factor that does not depend on the incoming gradient, for all t at once,
    # written over G (the temporaries K, F, c_{t-1} and σ' here are window-sized; a real cell
    # would fill them in the forward loop instead): P[i] = g·σ'(i), P[f] = c_{t-1}·σ'(f),
    # P[o] = tanh(c)·σ'(o), P[g] = i·(1 - g²); K = o·(1 - tanh²(c)); F = f.
    i, f, o, gg = G[..., :H], G[..., H:2 * H], G[..., 2 * H:3 * H], G[..., 3 * H:]
    K = o * (1.0 - tanhC * tanhC)
    F = f.copy()
    Cprev = np.concatenate([c0[None], Cs[:-1]])
    sd = G[..., :3 * H] * (1.0 - G[..., :3 * H])  # σ' of i, f, o
    Pg = i * (1.0 - gg * gg)
    np.multiply(gg, sd[..., :H], out=i)
    np.multiply(Cprev, sd[..., H:2 * H], out=f)
    np.multiply(tanhC, sd[..., 2 * H:], out=o)
    gg[...] = Pg
    P4 = G.reshape(T, b, 4, H)
    W_hT = W_h.T  # dA below is the gradient at the unhalved pre-activations
    dA = np.empty_like(G)
    dA4 = dA.reshape(T, b, 4, H)
    dh_next, dc_next = np.zeros((b, H), f32), np.zeros((b, H), f32)
    dh, dc = np.empty((b, H), f32), np.empty((b, H), f32)
    for t in range(T - 1, -1, -1):
        np.add(dHs[t], dh_next, out=dh)
        np.hypot(np.sqrt(np.dot(dh.ravel(), dh.ravel())), np.sqrt(np.dot(dc_next.ravel(),
                                                                        dc_next.ravel())))
        np.multiply(dh, K[t], out=dc)
        dc += dc_next
        np.multiply(P4[t], dc[:, None, :], out=dA4[t])  # i, f, g blocks (o fixed next)
        np.multiply(dh, o[t], out=dA4[t, :, 2])
        dc_next = np.multiply(dc, F[t], out=dc_next)
        dh_next = dA[t] @ W_hT
    return Hs, dA, dh_next, dc_next


def blas_threads(n):
    """Set OpenBLAS's thread count in this process (numpy's bundled scipy-openblas)."""
    import ctypes
    import glob
    import os
    libs = glob.glob(os.path.join(os.path.dirname(np.__file__) + ".libs", "*openblas*"))
    ctypes.CDLL(libs[0]).scipy_openblas_set_num_threads64_(n)


def halves(A0, W_h, h0, c0, dHs):
    """`fewer` on each half of the batch in its own thread, BLAS at one thread meanwhile."""
    blas_threads(1)
    m = B // 2
    out = [None, None]

    def work(k, sl):
        out[k] = fewer(A0[:, sl], W_h, h0[sl], c0[sl], dHs[:, sl])
    ths = [threading.Thread(target=work, args=(k, sl))
           for k, sl in enumerate((slice(0, m), slice(m, B)))]
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    blas_threads(THREADS)
    return tuple(np.concatenate([a, b_], axis=-2 if x.ndim == 3 else 0)
                 for x, a, b_ in zip(out[0], out[0], out[1]))


def main():
    global B
    rng = np.random.default_rng(0)
    A0 = rng.standard_normal((T, B, 4 * H), dtype=f32)
    W_h = (rng.standard_normal((H, 4 * H), dtype=f32) / np.sqrt(H)).astype(f32)
    h0, c0 = (0.1 * rng.standard_normal((B, H), dtype=f32) for _ in range(2))
    dHs = rng.standard_normal((T, B, H), dtype=f32) * f32(1e-3)
    ref = base(A0, W_h, h0, c0, dHs)
    variants = {"base": lambda: base(A0, W_h, h0, c0, dHs),
                "fewer": lambda: fewer(A0, W_h, h0, c0, dHs)}
    if THREADS > 1:
        variants["halves"] = lambda: halves(A0, W_h, h0, c0, dHs)
    for k, fn in variants.items():
        for x, y in zip(fn(), ref):
            assert np.allclose(x, y, rtol=2e-3, atol=1e-5), k
    times = {k: [] for k in variants}
    clock = [0.0, 0.0]
    for _ in range(15):
        for k, fn in variants.items():
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
        base(A0, W_h, h0, c0, dHs, clock)
    med = {k: float(np.median(v)) for k, v in times.items()}
    share = clock[0] / sum(clock)
    print(f"B {B} H {H} T {T}, BLAS threads {THREADS}: loops fwd+bwd "
          + ", ".join(f"{k} {1e3 * v:.1f} ms" for k, v in med.items())
          + f"; base/fewer {med['base'] / med['fewer']:.2f}"
          + (f", base/halves {med['base'] / med['halves']:.2f}" if "halves" in med else "")
          + f"; in base the per-step products take {100 * share:.0f} %, gate arithmetic "
          f"{100 * (1 - share):.0f} %")


if __name__ == "__main__":
    main()
