"""Gradient clipping: by the global L2 norm of all gradients together, and by value.

Both are loops over the flat {name: array} gradient dict, in place. A dict with row hints
(``grads.rows``, nn/functional.py's Grads: {name: the only rows that can be nonzero}) has the norm
and the scale of those gradients taken on their rows alone.
"""

import math

from rnnlm.backend import array_module


def global_norm(grads):
    """‖g‖ over every element of every gradient (float64 accumulation of per-tensor sums)."""
    rows = getattr(grads, "rows", {})
    total = 0.0
    for name, g in grads.items():
        g = g[rows[name]] if name in rows else g  # the rows that can be nonzero (a copy)
        total += float(array_module(g).dot(g.reshape(-1), g.reshape(-1)))
    return math.sqrt(total)


def clip_by_norm(grads, max_norm, norm=None):
    """Scale all gradients together so their global norm is at most max_norm (0 = off).

    In place. ``norm`` is the global norm if already known. Returns (norm before, norm after,
    whether clipping fired).
    """
    norm = global_norm(grads) if norm is None else norm
    if max_norm > 0 and norm > max_norm:
        scale = max_norm / (norm + 1e-12)
        rows = getattr(grads, "rows", {})
        for name, g in grads.items():
            if name in rows:
                g[rows[name]] *= g.dtype.type(scale)
            else:
                g *= g.dtype.type(scale)
        return norm, norm * scale, True
    return norm, norm, False


def clip_by_value(grads, max_value):
    """Clamp every element to [-max_value, max_value] (0 = off), in place. Returns whether any was."""
    if max_value <= 0:
        return False
    fired = False
    for g in grads.values():
        xp = array_module(g)
        fired = fired or bool(xp.any(xp.abs(g) > max_value))
        xp.clip(g, -max_value, max_value, out=g)
    return fired
