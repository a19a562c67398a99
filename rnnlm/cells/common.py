"""Small helpers shared by the cells."""

import numpy as np


def sigmoid(x, out=None):
    """σ(x) = 1 / (1 + exp(-x)) with -x capped at 80, stable for any x.

    One exp is 1.65× faster than the tanh form (1 + tanh(x/2)) / 2 here (45 against 75 µs on
    (32, 768) float32). The cap keeps exp finite in float32 and σ out of the denormal range
    (below x = -87 it would land there, and denormals are slow): σ(x) for x < -80 comes out as
    σ(-80) = 1.8e-35 instead of something smaller, a difference no gradient can see.
    """
    out = np.negative(x, out=out)
    np.minimum(out, 80.0, out=out)
    np.exp(out, out=out)
    out += 1.0
    return np.reciprocal(out, out=out)


def frob(a):
    """‖a‖ over all elements, via one BLAS dot product."""
    v = a.reshape(-1)
    return float(np.sqrt(np.dot(v, v)))


def input_projection(X, W_x, b):
    """X W_x + b for every time step at once: (T, B, D) -> (T, B, kH), one matrix product."""
    T, B, D = X.shape
    A = X.reshape(T * B, D) @ W_x  # (T*B, kH)
    A += b
    return A.reshape(T, B, -1)


def weight_grads(X, h0, Hs, dA_x, dA_h, W_x, param_grads=True):
    """After the time loop: dX, dW_x, dW_h and db, each one product over all T*B rows.

    dA_x (T, B, kH) is the gradient at the input projection, dA_h the gradient at the recurrent
    product (the same array except in the GRU). h_{t-1} is h0 for t = 0 and Hs[t-1] after.
    With param_grads False only dX is computed (the weight gradients come back as None).
    """
    T, B, D = X.shape
    kH = dA_x.shape[2]
    H = h0.shape[1]
    dAx = dA_x.reshape(T * B, kH)
    if not param_grads:
        return (dAx @ W_x.T).reshape(T, B, D), None, None, None
    dW_x = X.reshape(T * B, D).T @ dAx  # (D, kH)
    dW_h = h0.T @ dA_h[0]  # (H, kH)
    if T > 1:
        dW_h += Hs[:-1].reshape((T - 1) * B, H).T @ dA_h[1:].reshape((T - 1) * B, kH)
    db = dAx.sum(axis=0)
    dX = (dAx @ W_x.T).reshape(T, B, D)
    return dX, dW_x, dW_h, db
