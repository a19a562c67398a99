"""Recurrent cells behind one interface: tanh RNN, ReLU RNN, GRU, LSTM.

Every cell runs a whole window at once, time-major:

    Hs, state_out, cache = forward(p, X, state)                  # X (T, B, D), Hs (T, B, H)
    dX, dstate_in, grads, step_norms = backward(p, dHs, dstate_out, cache)

``state`` is always a tuple, ``(h,)`` or ``(h, c)``, each (B, H), so the model, the trainer and the
sampler never branch on the cell type. ``p`` holds one layer's fused parameters:

    W_x (D, kH)   input weights of all k gate blocks side by side
    W_h (H, kH)   recurrent weights, same block order
    b   (kH,)     one bias per block (PyTorch's b_ih + b_hh folded into one: the same function)
    b_hn (H,)     GRU only: the candidate's hidden bias, kept apart because the reset gate multiplies it

The equations (x_t one row of X, h_{t-1} the carried state, σ the logistic sigmoid, ⊙ elementwise):

    rnn_tanh  k=1   h_t = tanh(x_t W_x + h_{t-1} W_h + b)
    rnn_relu  k=1   h_t = max(0, x_t W_x + h_{t-1} W_h + b)

    gru       k=3   gate order [r, z, n]  (PyTorch's variant: reset applied after the product)
                    r = σ(x W_x[r] + h_{t-1} W_h[r] + b[r])
                    z = σ(x W_x[z] + h_{t-1} W_h[z] + b[z])
                    n = tanh(x W_x[n] + b[n] + r ⊙ (h_{t-1} W_h[n] + b_hn))
                    h_t = (1 - z) ⊙ n + z ⊙ h_{t-1}

    lstm      k=4   gate order [i, f, o, g]  (the three sigmoid gates contiguous, g apart)
                    i, f, o = σ(a[i]), σ(a[f]), σ(a[o]),  g = tanh(a[g]),
                    where a = x W_x + h_{t-1} W_h + b
                    c_t = f ⊙ c_{t-1} + i ⊙ g
                    h_t = o ⊙ tanh(c_t)

Where the time goes: ``X W_x + b`` for all T steps is one matrix product before the loop; only
``h_{t-1} W_h`` and the gate math run per step. Backward produces the pre-activation gradients
``dA_t`` for every t inside the loop, then ``dW_h``, ``dW_x`` and ``dX`` are one product each.

``step_norms`` (T,) is ``‖∂L/∂s_t‖`` (Frobenius over the batch) for every t, taken in the backward
loop right after the gradient from above and the gradient from the future are added: the gradient
flow through time that ``rnnlm inspect`` reports. s_t is the cell's whole state: h_t for the RNNs
and the GRU, (h_t, c_t) for the LSTM, each taken as the state carried into step t+1 (so for c_t
the gradient at fixed h_t, f_{t+1} ⊙ ∂L/∂c_{t+1}). The LSTM's memory travels in c, with no
squashing on the way, while ∂L/∂h_t alone drops off within a few steps.
"""

import numpy as np

from . import gru, lstm, rnn

GATES = {"rnn_tanh": 1, "rnn_relu": 1, "gru": 3, "lstm": 4}
STATE_SIZE = {"rnn_tanh": 1, "rnn_relu": 1, "gru": 1, "lstm": 2}  # tensors in the state tuple
_IMPL = {
    "rnn_tanh": (rnn.forward_tanh, rnn.backward_tanh),
    "rnn_relu": (rnn.forward_relu, rnn.backward_relu),
    "gru": (gru.forward, gru.backward),
    "lstm": (lstm.forward, lstm.backward),
}
CELLS = tuple(GATES)


def forward(cell, p, X, state):
    """Run a window: X (T, B, D), state tuple of (B, H) -> Hs (T, B, H), state_out, cache."""
    return _IMPL[cell][0](p, X, state)


def backward(cell, p, dHs, dstate_out, cache, param_grads=True):
    """BPTT through one window -> dX (T, B, D), dstate_in tuple, grads dict, step_norms (T,).

    With param_grads False the weight products are skipped and grads is empty (the probe).
    """
    return _IMPL[cell][1](p, dHs, dstate_out, cache, param_grads)


def zero_state(cell, batch_size, hidden_size, dtype):
    return tuple(np.zeros((batch_size, hidden_size), dtype) for _ in range(STATE_SIZE[cell]))


def init_params(cell, input_size, hidden_size, rng, dtype, init_scale=0.0,
                recurrent_init="orthogonal", recurrent_gain=1.0, forget_bias=1.0):
    """One layer's parameters.

    W_x ~ U(-s, s) with s = init_scale, or 1/sqrt(H) when init_scale is 0 (PyTorch's default).
    W_h: each H×H gate block orthogonal (or uniform like W_x), times recurrent_gain.
    b = 0, except the LSTM forget gate's block, which starts at forget_bias (remember by default).
    """
    k, H = GATES[cell], hidden_size
    s = init_scale if init_scale > 0 else 1.0 / np.sqrt(H)
    W_x = rng.uniform(-s, s, (input_size, k * H))
    if recurrent_init == "orthogonal":
        W_h = np.concatenate([orthogonal(H, rng) for _ in range(k)], axis=1)
    else:
        W_h = rng.uniform(-s, s, (H, k * H))
    b = np.zeros(k * H)
    if cell == "lstm":
        b[H:2 * H] = forget_bias
    p = {"W_x": W_x, "W_h": recurrent_gain * W_h, "b": b}
    if cell == "gru":
        p["b_hn"] = np.zeros(H)
    return {name: a.astype(dtype) for name, a in p.items()}


def orthogonal(n, rng):
    """A random n×n orthogonal matrix (QR of a Gaussian, signs fixed so it is uniformly drawn)."""
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))
