"""The two matrix products every cell shares: the input projection before the time loop and the
weight gradients after it."""

from ..functional import add_grad


def input_projection(X, W_x, b):
    """X W_x + b for every time step at once: (T, B, D) -> (T, B, kH), one matrix product."""
    T, B, D = X.shape
    A = X.reshape(T * B, D) @ W_x  # (T*B, kH)
    A += b
    return A.reshape(T, B, -1)


def weight_grads(X, h0, Hs, dA_x, dA_h, W_x, grads=None, prefix=""):
    """After the time loop: dX, and dW_x, dW_h, db added into grads, each one product over T*B rows.

    dA_x (T, B, kH) is the gradient at the input projection, dA_h the gradient at the recurrent
    product (the same array except in the GRU). h_{t-1} is h0 for t = 0 and Hs[t-1] after.
    With grads None only dX is computed (the gradient-flow probe).
    """
    T, B, D = X.shape
    kH = dA_x.shape[2]
    H = h0.shape[1]
    dAx = dA_x.reshape(T * B, kH)
    if grads is not None:
        dW_h = h0.T @ dA_h[0]  # (H, kH)
        if T > 1:
            dW_h += Hs[:-1].reshape((T - 1) * B, H).T @ dA_h[1:].reshape((T - 1) * B, kH)
        add_grad(grads, prefix + "W_x", X.reshape(T * B, D).T @ dAx)  # (D, kH)
        add_grad(grads, prefix + "W_h", dW_h)
        add_grad(grads, prefix + "b", dAx.sum(axis=0))  # (kH,)
    return (dAx @ W_x.T).reshape(T, B, D)
