"""The softmax's gradient and loss as numba kernels (compiled by rnnlm.fused), each one pass over
the logits after numpy's row maximum; exp from scalar.exp_parts, 2^k built from its bits."""

import numpy as np


exp_parts = None  # set by rnnlm.fused before build(): a global, as gates.py's tanh32 (see there)


def build(jit):
    """{name: kernel} of the head's softmax, compiled with ``jit`` (exp_parts set beforehand)."""
    one = np.float32(1.0)

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

    return {"softmax_xent": softmax_xent, "softmax_nll": softmax_nll}
