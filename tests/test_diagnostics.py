"""The gradient probe and its reading: ρ, horizon, verdict, spectral radius, saturation."""

import math

import numpy as np
import pytest

from rnnlm import model
from rnnlm.diagnostics import probe as d
from rnnlm.model import ModelSpec, orthogonal
from rnnlm.nn.cells import get_cell
from rnnlm.nn.cells.gru import GRUCache
from rnnlm.nn.cells.lstm import LSTMCache
from rnnlm.nn.cells.rnn import RNNCache

BLOCKS = {c: get_cell(c).gates for c in ("rnn_tanh", "rnn_relu", "gru", "lstm")}


def linear_rnn(cell, W_h, b, h0, T=60, B=4, V=11, D=4, seed=0):
    """A one-layer RNN whose recurrence is exactly linear over the window: W_x = 0, so the input
    adds nothing, and the state stays where the activation's slope is 1 (tanh near 0, ReLU > 0)."""
    rng = np.random.default_rng(seed)
    H = W_h.shape[0]
    spec = ModelSpec(cell, V, D, H, 1)
    params = model.init_params(spec, rng, np.float64)
    params["rnn.0.W_x"][...] = 0.0
    params["rnn.0.W_h"][...] = W_h
    params["rnn.0.b"][...] = b
    x = rng.integers(0, V, (B, T))
    y = rng.integers(0, V, (B, T))
    state = ((np.full((B, H), h0, np.float64),),)
    return params, spec, x, y, state


@pytest.mark.parametrize("a", [0.5, 0.9])
def test_tanh_rnn_rate_is_the_gain_of_an_orthogonal_W_h(a):
    # h stays 0 (W_x = 0, b = 0, h0 = 0), where tanh' = 1: ∂h_t/∂h_{t-1} = (a Q)^T exactly,
    # and an orthogonal Q keeps the norm, so ‖∂ℓ_T/∂h_{T-k}‖ = a^k ‖∂ℓ_T/∂h_T‖.
    H = 16
    Q = orthogonal(H, np.random.default_rng(1))
    params, spec, x, y, state = linear_rnn("rnn_tanh", a * Q, 0.0, 0.0)
    rec = d.probe_record(params, spec, x, y, state, step=1)
    norms = rec["probe_norms"][0]
    assert len(norms) == x.shape[1]
    curve = d.read_curve(norms)
    assert curve["rho"] == pytest.approx(a, rel=0.02)
    assert abs(rec["layers"][0]["spectral_radius"]["h"] - a) < 0.02 * a
    if a == 0.5:
        assert curve["verdict"] == "vanishing"
        assert curve["horizon"] == 10  # 0.5^10 < 1e-3 < 0.5^9
    assert rec["layers"][0]["saturation"]["h"] == 0.0


def test_relu_rnn_with_gain_above_one_explodes():
    # "All units active" needs every pre-activation > 0 at every step. An orthogonal Q with
    # negative entries would switch some units off, so Q is a permutation matrix (orthogonal and
    # positive), the state starts at 1 and the bias is positive: h_t = 1.1 P^T h_{t-1} + b > 0.
    # Then ReLU' = 1 everywhere and ∂h_t/∂h_{t-1} = 1.1 P^T: the norm grows exactly 1.1 per step.
    H, T = 16, 80
    P = np.eye(H)[np.random.default_rng(2).permutation(H)]
    params, spec, x, y, state = linear_rnn("rnn_relu", 1.1 * P, 0.1, 1.0, T=T)
    params["head.W"] *= 1e-3  # h grows to ~1e3: keep the softmax away from saturation
    rec = d.probe_record(params, spec, x, y, state, step=1)
    assert rec["layers"][0]["dead_share"] == 0.0
    curve = d.read_curve(rec["probe_norms"][0])
    assert curve["rho"] == pytest.approx(1.1, rel=0.02)
    assert curve["verdict"] == "exploding"  # 1.1^80 ≈ 2000 > 1e3
    assert curve["horizon"] is None and curve["horizon_beyond_T"]


def test_probe_norms_match_the_record():
    params, spec, x, y, state = linear_rnn("rnn_tanh", 0.7 * np.eye(8), 0.0, 0.0, T=12)
    rec = d.probe_record(params, spec, x, y, state, step=3)
    np.testing.assert_allclose(d.probe_norms(params, spec, x, y, state), rec["probe_norms"])
    assert rec["kind"] == "probe" and rec["step"] == 3
    assert set(rec["param_grad_norms"]) == set(params) == set(rec["param_norms"])


def test_fit_ignores_zeros_and_underflow():
    geo = 0.5 ** np.arange(8)
    rho, used = d.fit_rate(np.concatenate([geo, [0.0, 1e-40, 3.0]]))
    assert rho == pytest.approx(0.5) and used == 8  # stops at the first collapse
    assert d.fit_rate([0.0, 0.0])[0] is None  # nothing at k = 0: no signal
    assert d.fit_rate([1.0, 0.0, 0.0]) == (0.0, 1)  # gone after one step: rate 0
    assert d.fit_rate([1.0, float("nan"), 1.0])[1] == 1
    assert d.verdict(None, 10) == "no signal" and d.verdict(0.0, 10) == "vanishing"


def test_horizon_and_verdict_thresholds():
    assert d.horizon(0.5 ** np.arange(20)) == 10
    assert d.horizon(np.ones(20)) is None
    assert d.horizon([1.0, 0.5, 0.0, 0.0]) == 2
    T = 50
    # ρ^T against 1e-3 and 1e3: just inside and just outside each bound
    assert d.verdict(10 ** (-3 / T) * 1.001, T) == "healthy"
    assert d.verdict(10 ** (-3 / T) * 0.999, T) == "vanishing"
    assert d.verdict(10 ** (3 / T) * 0.999, T) == "healthy"
    assert d.verdict(10 ** (3 / T) * 1.001, T) == "exploding"


def test_spectral_radius_matches_eigenvalues():
    rng = np.random.default_rng(3)
    for H in (8, 64):
        W = rng.standard_normal((H, H)) / math.sqrt(H)
        exact = np.abs(np.linalg.eigvals(W)).max()
        assert d.spectral_radius(W, np.random.default_rng(0)) == pytest.approx(exact, rel=0.01)
    assert d.spectral_radius(np.zeros((4, 4)), rng) == 0.0


def test_gate_saturation_per_block():
    T, B, H = 3, 2, 4
    G = np.full((T, B, 4 * H), 0.5)  # lstm order i, f, o, g
    G[..., H:2 * H] = 0.99  # f saturated everywhere
    G[..., 3 * H] = -0.97  # one g unit in four saturated (tanh: |g| > 0.95)
    lstm_cache = LSTMCache(*[None] * 5)._replace(G=G)
    sat = d.layer_health("lstm", lstm_cache)["saturation"]
    assert sat == {"i": 0.0, "f": 1.0, "o": 0.0, "g": 0.25}
    G3 = np.full((T, B, 3 * H), 0.02)  # gru order r, z, n; n = 0.02 is a tanh far from ±1
    sat = d.layer_health("gru", GRUCache(*[None] * 4)._replace(G=G3))["saturation"]
    assert sat == {"r": 1.0, "z": 1.0, "n": 0.0}
    Hs = np.ones((T, B, H))
    Hs[..., :2] = 0.0  # two of four ReLU units never fire
    Hs[0, 0, 1] = 0.3  # ... one fires once: alive
    Hext = np.concatenate([np.ones((1, B, H)), Hs])  # h_0, then h_1 .. h_T
    assert d.layer_health("rnn_relu", RNNCache(None, Hext))["dead_share"] == 0.25


def test_probe_covers_every_cell_and_layer():
    rng = np.random.default_rng(4)
    for cell in ("rnn_tanh", "rnn_relu", "gru", "lstm"):
        spec = ModelSpec(cell, 7, 3, 5, 2)
        params = model.init_params(spec, rng, np.float32)
        x = rng.integers(0, 7, (2, 6))
        rec = d.probe_record(params, spec, x, x, model.zero_state(spec, 2), step=1)
        assert np.asarray(rec["probe_norms"]).shape == (2, 6)
        assert len(rec["layers"]) == 2
        assert list(rec["layers"][0]["spectral_radius"]) == list(BLOCKS[cell])
