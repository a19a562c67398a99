"""Gradient-flow measurements taken during training, and their reading (behind `rnnlm inspect`).

The last-position probe (Pascanu, Mikolov & Bengio 2013): the gradient of the loss at the last
position of a window alone, carried back through time; its norm at h_{T-k} against k decays
(vanishing) or grows (exploding) roughly geometrically, ‖∂ℓ_T/∂h_{T-k}‖ ≈ C ρ^k.

Measured here, every train.probe_every steps (nothing at all when it is 0), on the training window
of that step and the parameters its gradient was taken at, dropout off:

    probe_norms      (L, T)   column k = ‖∂ℓ_T/∂h_{T-k}‖
    spectral_radius  per layer, per H×H gate block of W_h (power iteration)
    saturation       per layer, per gate: share of activations within 0.05 of their bounds
    dead_share       ReLU only: share of units that are 0 for the whole window and batch
    param_norms, param_grad_norms   per parameter; the gradient is the training step's own
                                    (the full window loss, before clipping)

Read back (by report.py) with fit_rate, horizon and verdict below.
"""

import math

import numpy as np

from rnnlm import model
from rnnlm.backend import to_host
from rnnlm.nn.cells import get_cell
from rnnlm.nn.heads import cross_entropy, softmax_cross_entropy

FLOOR = 1e-30  # norms at or below this (zeros, denormals, float32 underflow) carry no rate
HORIZON_DROP = 1e-3  # the horizon: where the probe has fallen to this share of its k = 0 value
WINDOW_GAIN = 1e3  # the verdict: ρ^T below 1/WINDOW_GAIN vanishing, above WINDOW_GAIN exploding


# ---------------------------------------------------------------- reading a probe curve
def fit_rate(norms):
    """Per-step rate ρ of a probe curve (T,): least squares of log norm_k = c + k log ρ.

    Uses k = 0 up to the first collapse: a value that is not finite or at or below FLOOR (an
    underflowed gradient says "gone", not "this small"). Returns (ρ, points used); ρ is 0.0 when
    the curve collapses after its first point and None when even norm_0 is unusable.
    """
    a = np.asarray(norms, dtype=np.float64)
    bad = ~(np.isfinite(a) & (a > FLOOR))
    n = int(np.argmax(bad)) if bad.any() else len(a)
    if n == 0:
        return None, 0
    if n == 1:
        return (0.0 if len(a) > 1 else None), 1
    k = np.arange(n, dtype=np.float64)
    slope = np.polyfit(k, np.log(a[:n]), 1)[0]
    return float(np.exp(slope)), n


def horizon(norms):
    """The first k where the probe falls below HORIZON_DROP × its k = 0 value; None: beyond T."""
    a = np.asarray(norms, dtype=np.float64)
    if len(a) == 0 or not (np.isfinite(a[0]) and a[0] > FLOOR):
        return None
    below = ~(np.nan_to_num(a, nan=0.0, posinf=np.inf) >= HORIZON_DROP * a[0])
    return int(np.argmax(below)) if below.any() else None


def verdict(rho, T):
    """vanishing | healthy | exploding | no signal, from the gain ρ^T over one window.

    Truncated BPTT can only learn what the gradient carries across one window of T steps, so the
    question a user has is whether the last position still reaches the first: ρ^T < 1e-3 means
    the start of the window gets less than a thousandth (the same cut as the horizon), ρ^T > 1e3
    means the gradient grows a thousandfold and clipping has to rescue every step.
    """
    if rho is None:
        return "no signal"
    log_gain = T * math.log(rho) if rho > 0 else -math.inf
    if log_gain < -math.log(WINDOW_GAIN):
        return "vanishing"
    if log_gain > math.log(WINDOW_GAIN):
        return "exploding"
    return "healthy"


def read_curve(norms):
    """Everything said about one layer's probe curve (T,), as a JSON-ready dict."""
    T = len(norms)
    rho, used = fit_rate(norms)
    hz = horizon(norms)
    return {"rho": rho, "fit_points": used, "horizon": hz, "horizon_beyond_T": hz is None,
            "window_gain": None if rho is None else float(rho) ** T, "verdict": verdict(rho, T)}


# ---------------------------------------------------------------- health of the recurrence
def spectral_radius(W, rng, iters=300):
    """max |λ| of a square matrix by power iteration: Gelfand's ‖W^k v‖^(1/k), averaged.

    The growth of the last 2/3 of the iterations is averaged in log space, so a dominant complex
    pair (whose one-step growth oscillates) still gives the right modulus.
    """
    W = np.asarray(W, dtype=np.float64)
    v = rng.standard_normal(W.shape[0])
    v /= np.linalg.norm(v)
    logs = np.empty(iters)
    for i in range(iters):
        v = W @ v
        n = np.linalg.norm(v)
        if not (np.isfinite(n) and n > 0):
            return 0.0 if n == 0 else float("inf")
        logs[i] = math.log(n)
        v /= n
    return float(math.exp(logs[iters // 3:].mean()))


def block_radii(W_h, cell, rng):
    """{gate: spectral radius} of each H×H gate block of W_h (H, kH), in the cell's gate order.

    Per block, not of the whole: each block is the recurrent map of one gate; for an RNN the one
    block is the Jacobian's linear part, for an LSTM the f and g blocks set how h feeds c.
    """
    W_h = to_host(W_h)
    H = W_h.shape[0]
    return {name: spectral_radius(W_h[:, j * H:(j + 1) * H], rng)
            for j, name in enumerate(get_cell(cell).gates)}


def saturation(acts, names, tanh_names=""):
    """{name: share saturated} for activations (T, B, kH) whose blocks are named in order.

    Sigmoid gates: below 0.05 or above 0.95 (σ' < 0.048); tanh (the gates in tanh_names): |a| >
    0.95 (tanh' < 0.1).
    """
    H = acts.shape[-1] // len(names)
    out = {}
    for j, name in enumerate(names):
        a = acts[..., j * H:(j + 1) * H]
        sat = np.abs(a) > 0.95 if name in tanh_names else (a < 0.05) | (a > 0.95)
        out[name] = float(sat.mean())
    return out


def layer_health(cell, cache):
    """Saturation (or the dead share for ReLU) from one layer's forward cache.

    The cell says where its activations are (Cell.activations: the gates G (T, B, kH), or Hs for
    the plain RNNs) and which gates are tanh.
    """
    cell = get_cell(cell)
    acts = to_host(cell.activations(cache))
    if cell.relu:  # acts are Hs (T, B, H)
        return {"dead_share": float(np.all(acts <= 0, axis=(0, 1)).mean())}
    return {"saturation": saturation(acts, cell.gates, cell.tanh_gates)}


# ---------------------------------------------------------------- the probe itself
def _last_position_dlogits(logits, y):
    """dℓ_T/dlogits (T, B, V): the batch-mean loss at the last position alone."""
    T, B, V = logits.shape
    weights = np.zeros(T * B)
    weights[(T - 1) * B:] = T  # time-major rows: the last B rows are position T; ×T undoes the /N
    _, dlogits = softmax_cross_entropy(logits.reshape(T * B, V), y.T.reshape(T * B), weights)
    return dlogits.reshape(T, B, V)


def _probe(params, spec, x, y, state):
    """One forward (dropout off) and the probe's backward: (norms (L, T) with column k the
    state T-k steps back, logits (T, B, V), forward cache)."""
    logits, _, cache = model.forward(params, spec, x, state)  # (T, B, V)
    _, norms, _ = model.backward(params, spec, _last_position_dlogits(logits, y), cache,
                                 param_grads=False)
    return norms[:, ::-1], logits, cache


def probe_norms(params, spec, x, y, state):
    """‖∂ℓ_T/∂h_{T-k}‖ for k = 0..T-1 and every layer: an array (L, T), column k.

    ℓ_T is the mean over the batch of the loss at the window's last position. Dropout is off:
    the probe measures the network itself, not one draw of its masks.
    """
    return _probe(params, spec, x, y, state)[0]


def probe_record(params, spec, x, y, state, step, grads=None):
    """One "probe" line of metrics.jsonl: one forward and the probe's backward.

    ``grads``: the training step's own gradients on this window (before clipping), whose norms
    are recorded; without them a full backward (dropout off) computes them.
    """
    norms, logits, cache = _probe(params, spec, x, y, state)
    T, B, V = logits.shape
    rows, targets = logits.reshape(T * B, V), y.T.reshape(T * B)
    if grads is None:
        loss, dlogits = softmax_cross_entropy(rows, targets)
        grads, _, _ = model.backward(params, spec, dlogits.reshape(T, B, V), cache)
    else:
        loss = cross_entropy(rows, targets)
    rng = np.random.default_rng(step)  # the power iteration's start vector, reproducible
    layers = []
    for l in range(spec.layers):
        info = {"spectral_radius": block_radii(params[f"rnn.{l}.W_h"], spec.cell, rng)}
        info.update(layer_health(spec.cell, cache.layers[l]))
        layers.append(info)
    return {"kind": "probe", "step": step, "loss": loss,
            "probe_norms": norms.tolist(),  # (L, T), column k is h_{T-k}
            "layers": layers,
            "param_norms": {n: _norm(p) for n, p in params.items()},
            "param_grad_norms": {n: _norm(g) for n, g in grads.items()}}


def _norm(a):
    v = np.asarray(a, dtype=np.float64).reshape(-1)
    return float(np.sqrt(np.dot(v, v)))
