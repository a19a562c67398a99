"""The recurrent cells: finite-difference gradient checks of each cell alone (parameters, input,
initial state, with a gradient arriving at the final state too), and the fused gates against a
slow per-gate reference written straight from the equations."""

import numpy as np
import pytest

from types import SimpleNamespace

from rnnlm.model import InitSpec, init_layer
from rnnlm.model.gradcheck import TOLERANCE, numeric_grad, relative_error
from rnnlm.nn.cells import get_cell, zero_state


def _init_params(cell, D, H, rng, dtype, **init):
    return {k: v.astype(dtype) for k, v in init_layer(get_cell(cell), D, H, rng, InitSpec(**init)).items()}


def _backward(cell, p, dHs, dstate, cache):
    grads = {}
    dX, dstate_in, norms = get_cell(cell).backward(p, dHs, dstate, cache, grads)
    return dX, dstate_in, grads, norms


# The cells through their registry entries, called as the tests always called them.
cells = SimpleNamespace(
    init_params=_init_params, forward=lambda cell, p, X, state: get_cell(cell).forward(p, X, state),
    backward=_backward, zero_state=lambda cell, B, H, dtype: zero_state(get_cell(cell), B, H, dtype),
    STATE_SIZE={c: len(get_cell(c).state) for c in ("rnn_tanh", "rnn_relu", "gru", "lstm")})

CELLS = ["rnn_tanh", "rnn_relu", "gru", "lstm"]
T, B, D, H = 5, 3, 4, 6


def _setup(cell, seed=0):
    rng = np.random.default_rng(seed)
    p = cells.init_params(cell, D, H, rng, np.float64)
    for k in p:
        if k.startswith("b"):
            p[k] = p[k] + rng.uniform(-0.2, 0.2, p[k].shape)
    X = rng.standard_normal((T, B, D))
    state = tuple(rng.uniform(-0.5, 0.5, (B, H)) for _ in range(cells.STATE_SIZE[cell]))
    if cell == "rnn_relu":
        state = tuple(np.abs(s) for s in state)
    R = rng.standard_normal((T, B, H))  # loss = Σ R ⊙ Hs + Σ S ⊙ state_out: any linear probe
    S = tuple(rng.standard_normal((B, H)) for _ in state)
    return p, X, state, R, S


@pytest.mark.parametrize("cell", CELLS)
def test_cell_gradients_match_finite_differences(cell):
    p, X, state, R, S = _setup(cell)

    def loss():
        Hs, out, _ = cells.forward(cell, p, X, state)
        return float(np.sum(R * Hs) + sum(np.sum(s * o) for s, o in zip(S, out)))

    Hs, out, cache = cells.forward(cell, p, X, state)
    dX, dstate, grads, norms = cells.backward(cell, p, R, S, cache)
    checks = {name: (grads[name], p[name]) for name in p}
    checks["X"] = (dX, X)
    for i, s in enumerate(state):
        checks[f"state{i}"] = (dstate[i], s)
    for name, (analytic, x) in checks.items():
        err = relative_error(analytic, numeric_grad(loss, x))
        assert err < TOLERANCE, f"{cell} {name}: relative error {err:.2e}"
    assert norms.shape == (T,) and np.all(norms > 0)


@pytest.mark.parametrize("cell", CELLS)
def test_step_norms_are_the_gradient_at_each_state(cell):
    """step_norms[t] = ‖∂L/∂s_t‖, s_t the whole state after step t ((h, c) for the LSTM), as the
    state carried into step t+1: each tensor an independent input of the rest of the sequence.

    With a loss on the last step only, ∂L/∂s_t for t < T-1 is exactly the initial-state gradient
    of the same cell run from s_t over the remaining steps: an independent way to get it.
    """
    p, X, state, R, _ = _setup(cell)
    R[:-1] = 0.0  # the loss sees only the last position
    zeros = tuple(np.zeros((B, H)) for _ in state)
    _, _, cache = cells.forward(cell, p, X, state)
    *_, norms = cells.backward(cell, p, R, zeros, cache)
    for t in range(T - 1):
        _, s_t, _ = cells.forward(cell, p, X[:t + 1], state)
        _, _, rest = cells.forward(cell, p, X[t + 1:], s_t)
        _, ds_t, _, _ = cells.backward(cell, p, R[t + 1:], zeros, rest)
        expected = np.sqrt(sum(np.sum(d * d) for d in ds_t))
        assert norms[t] == pytest.approx(expected, rel=1e-12), t
    assert norms[-1] == pytest.approx(np.linalg.norm(R[-1]), rel=1e-12)  # nothing from the future


def _sig(a):
    return 1.0 / (1.0 + np.exp(-a))


def _naive(cell, p, X, state):
    """Per-gate, per-step reference straight from the equations in cells/__init__.py."""
    Wx, Wh, b = p["W_x"], p["W_h"], p["b"]
    blk = lambda W, j: W[..., j * H:(j + 1) * H]  # noqa: E731  gate block j
    h = state[0]
    c = state[1] if cell == "lstm" else None
    out = []
    for x in X:
        if cell in ("rnn_tanh", "rnn_relu"):
            a = x @ Wx + h @ Wh + b
            h = np.tanh(a) if cell == "rnn_tanh" else np.maximum(a, 0)
        elif cell == "gru":
            r = _sig(x @ blk(Wx, 0) + h @ blk(Wh, 0) + blk(b, 0))
            z = _sig(x @ blk(Wx, 1) + h @ blk(Wh, 1) + blk(b, 1))
            n = np.tanh(x @ blk(Wx, 2) + blk(b, 2) + r * (h @ blk(Wh, 2) + p["b_hn"]))
            h = (1 - z) * n + z * h
        else:
            i = _sig(x @ blk(Wx, 0) + h @ blk(Wh, 0) + blk(b, 0))
            f = _sig(x @ blk(Wx, 1) + h @ blk(Wh, 1) + blk(b, 1))
            o = _sig(x @ blk(Wx, 2) + h @ blk(Wh, 2) + blk(b, 2))
            g = np.tanh(x @ blk(Wx, 3) + h @ blk(Wh, 3) + blk(b, 3))
            c = f * c + i * g
            h = o * np.tanh(c)
        out.append(h)
    return np.stack(out), (h, c) if cell == "lstm" else (h,)


@pytest.mark.parametrize("cell", CELLS)
def test_fused_gates_match_per_gate_reference(cell):
    p, X, state, _, _ = _setup(cell, seed=3)
    Hs, out, _ = cells.forward(cell, p, X, state)
    ref_Hs, ref_out = _naive(cell, p, X, state)
    np.testing.assert_allclose(Hs, ref_Hs, rtol=1e-12, atol=1e-12)
    for a, r in zip(out, ref_out):
        np.testing.assert_allclose(a, r, rtol=1e-12, atol=1e-12)


def test_lstm_forget_bias_and_gate_order():
    p = cells.init_params("lstm", D, H, np.random.default_rng(0), np.float64, forget_bias=1.0)
    assert np.all(p["b"][H:2 * H] == 1.0)  # block 1 is the forget gate
    assert np.all(p["b"][:H] == 0) and np.all(p["b"][2 * H:] == 0)


def test_orthogonal_init_and_gain():
    p = cells.init_params("rnn_tanh", D, H, np.random.default_rng(0), np.float64,
                          recurrent_gain=0.5)
    np.testing.assert_allclose(p["W_h"] @ p["W_h"].T, 0.25 * np.eye(H), atol=1e-12)


@pytest.mark.parametrize("cell", CELLS)
def test_float32_stays_float32(cell):
    p = cells.init_params(cell, D, H, np.random.default_rng(0), np.float32)
    X = np.random.default_rng(1).standard_normal((T, B, D)).astype(np.float32)
    state = cells.zero_state(cell, B, H, np.float32)
    Hs, out, cache = cells.forward(cell, p, X, state)
    dX, dstate, grads, _ = cells.backward(cell, p, np.ones_like(Hs), state, cache)
    assert Hs.dtype == dX.dtype == np.float32
    assert all(g.dtype == np.float32 for g in grads.values())
    assert all(s.dtype == np.float32 for s in out + dstate)
