"""Recurrent cells behind one interface: tanh RNN, ReLU RNN, GRU, LSTM.

Every cell runs a whole window at once, time-major:

    Hs, state_out, cache = cell.forward(p, X, state)             # X (T, B, D), Hs (T, B, H)
    dX, dstate_in, step_norms = cell.backward(p, dHs, dstate_out, cache, grads, prefix, overwrite)

backward adds the layer's parameter gradients into ``grads`` under ``prefix + name`` (grads None:
only the gradient flow, for the probe). The cache is a NamedTuple read by field name; with
``overwrite=True`` backward may write its gradients over it (the training step: less memory),
after which the cache is spent.

``state`` is always a tuple, ``(h,)`` or ``(h, c)``, each (B, H), so the model, the trainer and the
sampler never branch on the cell type. Each cell is one module that builds a ``Cell`` (base.py),
registered by name in rnnlm/registry.py; ``get_cell(name)`` looks it up. ``p`` holds one layer's fused parameters:

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

``step_norms`` (T,), an array on the device until the window is done, is ``‖∂L/∂s_t‖`` (Frobenius over the batch) for every t, taken in the backward
loop right after the gradient from above and the gradient from the future are added: the gradient
flow through time that ``rnnlm inspect`` reports. s_t is the cell's whole state: h_t for the RNNs
and the GRU, (h_t, c_t) for the LSTM, each taken as the state carried into step t+1 (so for c_t
the gradient at fixed h_t, f_{t+1} ⊙ ∂L/∂c_{t+1}). The LSTM's memory travels in c, with no
squashing on the way, while ∂L/∂h_t alone drops off within a few steps.
"""

from rnnlm import registry
from rnnlm.backend import array_module

from .base import Cell


def get_cell(name) -> Cell:
    """The Cell registered under `name` (ValueError for an unknown one)."""
    if name not in registry.CELLS:
        raise ValueError(f"unknown cell {name!r}: choose one of {', '.join(registry.CELLS)}")
    return registry.load(registry.CELLS, name)


def zero_state(cell: Cell, batch_size, hidden_size, dtype, xp=None):
    """The all-zero state tuple of one layer, each tensor (B, H)."""
    xp = xp or array_module()
    return tuple(xp.zeros((batch_size, hidden_size), dtype) for _ in cell.state)
