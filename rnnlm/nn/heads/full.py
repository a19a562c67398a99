"""The full softmax: logits = X W + b over the whole vocabulary.

Parameters (local names; the model's are ``head.W``, ``head.b``): W (H, V), b (V,).

Training (``loss``) keeps one (N, V) array: the logits are computed into it, shifted by their row
maximum, exponentiated and scaled into the softmax and then into dlogits in place, so the peak
holds a single (N, V) buffer (the simple path, linear_forward + softmax_cross_entropy, holds
three: logits, shifted logits, dlogits). Tested equal to that simple path.
"""

from rnnlm.backend import array_module, matmul

from ..functional import add_grad
from ..layers import linear_backward, linear_forward
from .base import Head
from .softmax import nll_, softmax_cross_entropy_


def param_shapes(H, V, cutoffs=()):
    return {"W": (H, V), "b": (V,)}


def init(H, V, cutoffs, rng, scale):
    """W ~ U(-scale, scale), b = 0 (drawn in the order the model always drew them); host arrays."""
    return {"W": rng.uniform(-scale, scale, (H, V)), "b": array_module().zeros(V)}


def loss(hp, X, targets, grads=None, prefix=""):
    """Mean -log p(target) over N rows, and dX (N, H); adds dW, db into grads["W"], grads["b"]."""
    W, b = hp["W"], hp["b"]
    N = X.shape[0]
    Z = matmul(X, W)  # (N, V) the one big buffer: logits, then softmax, then dlogits
    total, db = softmax_cross_entropy_(Z, targets, N, b, column_sums=True)
    if grads is not None:
        add_grad(grads, prefix + "W", matmul(X.T, Z))
        add_grad(grads, prefix + "b", db)
    mean_nll = float(total) / N
    return mean_nll, matmul(Z, W.T)


def nll(hp, X, targets):
    """-log p(target) of every row (N,), without the gradient; one (N, V) buffer."""
    return nll_(matmul(X, hp["W"]), targets, hp["b"])


def logits(hp, X):
    return linear_forward(X, hp["W"], hp["b"])[0]


def logits_backward(hp, X, dlogits, grads=None, prefix=""):
    return linear_backward(dlogits, (X, hp["W"]), grads, (prefix + "W", prefix + "b"))


FULL = Head(name="full", param_shapes=param_shapes, init=init, loss=loss, nll=nll, logits=logits,
            logits_backward=logits_backward)
