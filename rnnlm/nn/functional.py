"""Elementwise functions and the gradient-accumulation rule shared by every piece of nn."""

from rnnlm.backend import array_module


def sigmoid(x, out=None):
    """σ(x) = 1 / (1 + exp(-x)) with -x capped at 80, stable for any x.

    One exp is 1.65× faster than the tanh form (1 + tanh(x/2)) / 2 here (45 against 75 µs on
    (32, 768) float32). The cap keeps exp finite in float32 and σ out of the denormal range
    (below x = -87 it would land there, and denormals are slow): σ(x) for x < -80 comes out as
    σ(-80) = 1.8e-35 instead of something smaller, a difference no gradient can see.
    """
    xp = array_module(x)
    out = xp.negative(x, out=out)
    xp.minimum(out, 80.0, out=out)
    xp.exp(out, out=out)
    out += 1.0
    return xp.reciprocal(out, out=out)


class Grads(dict):
    """The {name: gradient} dict a backward pass fills, and ``rows``: {name: sorted unique row
    ids} for a gradient known to be zero outside those rows (an untied embedding's: only the
    window's words can have one; 700 of config c's 10,000 rows, at most).

    Clipping's norm and scale and plain SGD's update then touch those rows alone, not c's whole
    26 MB embedding gradient (norm, clip and SGD with clipping firing: 22.1 -> 17.2 ms on c, one
    thread, of a 425 ms step). Everything else reads the gradient as the dense array it still
    is. A hint must never claim too few rows: storing a gradient (``grads[name] = ...``,
    ``grads[name] += ...``, add_grad) drops its hint, and code that writes into a gradient in
    place (the MPI Allreduce) clears them all. Copying the dict (``dict(grads)``) keeps no hints,
    which is always safe."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.rows = {}

    def __setitem__(self, name, g):
        self.rows.pop(name, None)
        super().__setitem__(name, g)


def add_grad(grads, name, g):
    """grads[name] += g; the first contribution is stored as it is (g must be a fresh array)."""
    if name in grads:
        grads[name] += g
    else:
        grads[name] = g
