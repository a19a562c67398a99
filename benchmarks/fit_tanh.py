"""Fit the rational tanh of rnnlm/fused/scalar.py: tanh(x) ≈ x·P(x²) / Q(x²) on [0, 9], P and
Q of degree 4, Q(0) = 1; prints the coefficients and their errors.

    .venv/bin/python benchmarks/fit_tanh.py

Linear least squares on x·P(s) - tanh(x)·Q(s) (s = x²), each point divided by tanh(x)·Q(s) of
the previous round (so the residual is the relative error), and weighted by Lawson's iteration
(each round multiplies a point's weight by its error: the fit moves towards minimising the largest
error). Scratch: not part of the package.
"""

import numpy as np


def fit(p=4, q=4, edge=9.0, rounds=60):
    x = np.concatenate([np.linspace(1e-5, 1, 6000), np.linspace(1, edge, 6000)])
    y, s = np.tanh(x), x * x
    A = np.concatenate([np.stack([x * s ** k for k in range(p + 1)], 1),
                        -np.stack([y * s ** k for k in range(1, q + 1)], 1)], 1)
    weight, q_prev, best = np.ones_like(x), np.ones_like(x), None
    for _ in range(rounds):
        w = np.sqrt(weight) / (y * q_prev)
        c = np.linalg.lstsq(A * w[:, None], y * w, rcond=None)[0]
        P, Q = c[:p + 1], np.concatenate([[1.0], c[p + 1:]])
        q_prev = np.polyval(Q[::-1], s)
        err = np.abs(x * np.polyval(P[::-1], s) / q_prev - y) / y
        if best is None or err.max() < best[2]:
            best = (P, Q, err.max())
        weight = weight * err
        weight /= weight.sum()
    return best


def ulps_in_float32(P, Q, n=2_000_000, seed=0):
    """Largest error in units of the last place of the rational function evaluated in float32
    (Horner, as fused/scalar.py does), over uniform points in [-9, 9] and log-uniform ones down to 1e-8."""
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.uniform(-9, 9, n), 10.0 ** rng.uniform(-8, 0, n // 10)]).astype(np.float32)
    s = x * x
    num, den = np.float32(P[-1]), np.float32(Q[-1])
    for c in P[-2::-1]:
        num = num * s + np.float32(c)
    for c in Q[-2::-1]:
        den = den * s + np.float32(c)
    approx = np.clip(x * num / den, -1, 1).astype(np.float64)
    exact = np.tanh(x.astype(np.float64))
    ulp = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    return float((np.abs(approx - exact) / ulp).max()), float(
        (np.abs(np.tanh(x).astype(np.float64) - exact) / ulp).max())


if __name__ == "__main__":
    P, Q, rel = fit()
    ours, numpy_own = ulps_in_float32(P, Q)
    print("TANH_P =", tuple(float(v) for v in P))
    print("TANH_Q =", tuple(float(v) for v in Q))
    print(f"relative error {rel:.2e} in float64; in float32 at most {ours:.1f} ulp "
          f"(numpy's tanh: {numpy_own:.1f})")
