"""Parameter-sized loops as numba kernels (compiled by rnnlm.fused): Adam's update and the
embedding's row scatter. Compiled without fast-math: each operation rounds as numpy's path does,
in its order, so both give the numpy path's floats bit for bit."""

import numpy as np


def build(exact):
    """{name: kernel}, compiled with ``exact`` (no fast-math flags)."""

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

    return {"adam": adam, "scatter_rows": scatter_rows}
