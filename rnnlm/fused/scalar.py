"""tanh and exp as plain float32 arithmetic, for numba to inline into the kernels and vectorise
(numba's math.tanh and math.exp are scalar library calls). Each function here returns the
Python scalar function; rnnlm.fused compiles it inline."""

import math

import numpy as np

# tanh(x) ≈ x·P(x²) / Q(x²) on [-9, 9], P and Q of degree 4 (Q's constant term 1), fitted by us
# (benchmarks/fit_tanh.py: least squares on the relative error, reweighted towards the largest,
# Lawson's iteration): relative error 2.1e-8 in exact arithmetic, at most 6 units in the last
# place evaluated in float32 (numpy's own tanh: 1.4). Beyond ±9 tanh rounds to ±1 in float32.
TANH_P = (0.9999999795476957, 0.1338101232242981, 0.003495569455056275, 2.0608663111814804e-05,
          1.335389545432459e-08)
TANH_Q = (1.0, 0.4671432797873088, 0.02587691863434735, 0.0003285599341424288,
          7.776282254069624e-07)


def tanh32():
    """The scalar function tanh32(x) for float32 x, plain arithmetic (no library call), for numba
    to inline and vectorise. NaN stays NaN (every comparison with it is false)."""
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


def exp_parts():
    """The scalar function exp_parts(x) -> (p, k) with exp(x) = p·2^k for float32 x in
    [-126 ln 2, 0], plain arithmetic for numba to inline and vectorise (the caller builds 2^k
    from its bits): k = x / ln 2 rounded to nearest (adding and subtracting 1.5·2^23 rounds a
    float32), r = x - k ln 2 with ln 2 in two parts (the first exact in few bits, so k·ln2_hi
    is exact), |r| ≤ ln 2 / 2, and p = exp(r) by its Taylor series to r⁷ (truncation below
    6e-9)."""
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

