"""Gradient-flow measurements taken during training (the numbers behind `rnnlm inspect`).

The last-position probe (Pascanu, Mikolov & Bengio 2013): the gradient of the loss at the last
position of a window alone, carried back through time; its norm at h_{T-k} against k decays
(vanishing) or grows (exploding) roughly geometrically.
"""

import numpy as np

from . import model
from .layers import softmax_cross_entropy


def probe_norms(params, spec, x, y, state):
    """‖∂ℓ_T/∂h_{T-k}‖ for k = 0..T-1 and every layer: an array (L, T), column k.

    ℓ_T is the mean over the batch of the loss at the window's last position. Dropout is off:
    the probe measures the network itself, not one draw of its masks.
    """
    logits, _, cache = model.forward(params, spec, x, state)  # (T, B, V)
    T, B, V = logits.shape
    weights = np.zeros(T * B)
    weights[(T - 1) * B:] = T  # time-major rows: the last B rows are position T; ×T undoes the /N
    _, dlogits = softmax_cross_entropy(logits.reshape(T * B, V), y.T.reshape(T * B), weights)
    _, norms, _ = model.backward(params, spec, dlogits.reshape(T, B, V), cache, param_grads=False)
    return norms[:, ::-1]  # (L, T) reversed: column k is h_{T-k}


def probe_record(params, spec, x, y, state, step):
    """One "probe" line of metrics.jsonl."""
    return {"kind": "probe", "step": step,
            "probe_norms": probe_norms(params, spec, x, y, state).tolist()}
