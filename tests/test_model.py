"""The whole model: gradient checks through `rnnlm.gradcheck`, windows against whole sequences,
the initial loss, overfitting a tiny text, and the per-piece layers."""

import math

import numpy as np
import pytest

from types import SimpleNamespace

from rnnlm import model
from rnnlm.model.gradcheck import TOLERANCE, check_model, numeric_grad, relative_error
from rnnlm.nn import heads
from rnnlm.nn import layers as nn_layers
from rnnlm.optim import clip_by_norm
from rnnlm.optim.adam import Adam


def _linear_backward(dY, cache):
    grads = {}
    dX = nn_layers.linear_backward(dY, cache, grads)
    return dX, grads["W"], grads["b"]


def _embedding_backward(dout, cache):
    grads = {}
    nn_layers.embedding_backward(dout, cache, grads, "W")
    return grads["W"]


# The pieces as the tests always called them (backward now adds into a grads dict).
layers = SimpleNamespace(
    linear_forward=nn_layers.linear_forward, linear_backward=_linear_backward,
    embedding_forward=nn_layers.embedding_forward, embedding_backward=_embedding_backward,
    dropout_forward=nn_layers.dropout_forward, dropout_backward=nn_layers.dropout_backward,
    softmax_cross_entropy=heads.softmax_cross_entropy, cross_entropy=heads.cross_entropy)

CELLS = ["rnn_tanh", "rnn_relu", "gru", "lstm"]


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("layers_, dropout", [(1, 0.0), (2, 0.0), (2, 0.3)])
def test_model_gradcheck(cell, layers_, dropout):
    errors = check_model(model.ModelSpec(cell, 11, 4, 5, layers_, dropout))
    assert max(errors.values()) < TOLERANCE, errors
    # every parameter and the carried state of every layer were checked
    assert sum(k.startswith("state.") for k in errors) == layers_ * (2 if cell == "lstm" else 1)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("tie", [False, True])
def test_embedding_folded_into_the_first_layer(cell, tie, monkeypatch):
    """With the embedding folded into the first layer (layers.Lookup: the (V, D) @ (D, kH)
    table, its rows gathered, dA's rows scattered back) the loss, every gradient, the step norms
    and the state's gradient are those of the plain path, and the folded path passes the
    finite-difference check on its own."""
    spec = model.ModelSpec(cell, 5, 6 if tie else 4, 6, 2, tie_weights=tie)  # tied: D = H
    rng = np.random.default_rng(7)
    params = model.init_params(spec, rng, np.float64)
    x, y = rng.integers(0, 5, (4, 6)), rng.integers(0, 5, (4, 6))  # V 5 · 4 <= T·B 24: folds
    state = tuple(tuple(s + 0.2 for s in layer) for layer in model.zero_state(spec, 4))
    out = {}
    for ratio in (4, 10 ** 9):  # folded, then not
        monkeypatch.setattr(model.lm, "FOLD_RATIO", ratio)
        top, _, cache = model.lm.forward_hidden(params, spec, x, state)
        assert (cache.embed is None) == (ratio == 4)
        out[ratio] = model.loss_and_grads(params, spec, x, y, state)
        logits, _, cache = model.forward(params, spec, x, state)
        out[ratio] += (model.backward(params, spec, np.ones_like(logits), cache, param_grads=False),)
    (l1, g1, s1, n1, flow1), (l2, g2, s2, n2, flow2) = out[4], out[10 ** 9]
    assert l1 == pytest.approx(l2, rel=1e-12)
    assert set(g1) == set(g2)
    for k in g2:
        np.testing.assert_allclose(g1[k], g2[k], rtol=1e-10, atol=1e-12, err_msg=k)
    np.testing.assert_allclose(n1, n2, rtol=1e-10)
    np.testing.assert_allclose(flow1[1], flow2[1], rtol=1e-10)  # the probe's step norms
    monkeypatch.setattr(model.lm, "FOLD_RATIO", 0)  # always folds (no dropout in the spec)
    errors = check_model(spec)
    assert max(errors.values()) < TOLERANCE, errors


def test_layer_gradients():
    rng = np.random.default_rng(0)
    X, W, b = rng.standard_normal((6, 4)), rng.standard_normal((4, 5)), rng.standard_normal(5)
    y = rng.integers(0, 5, 6)

    def loss():
        return layers.softmax_cross_entropy(layers.linear_forward(X, W, b)[0], y)[0]

    logits, cache = layers.linear_forward(X, W, b)
    _, dlogits = layers.softmax_cross_entropy(logits, y)
    dX, dW, db = layers.linear_backward(dlogits, cache)
    for analytic, x in ((dX, X), (dW, W), (db, b)):
        assert relative_error(analytic, numeric_grad(loss, x)) < TOLERANCE

    E = rng.standard_normal((7, 3))
    ids = np.array([[1, 2, 1], [6, 1, 0]])  # repeated ids must accumulate
    R = rng.standard_normal((2, 3, 3))
    out, cache = layers.embedding_forward(E, ids)
    dE = layers.embedding_backward(R, cache)
    assert relative_error(dE, numeric_grad(lambda: float(np.sum(E[ids] * R)), E)) < TOLERANCE

    mask_rng = lambda: np.random.default_rng(5)  # noqa: E731
    Z = rng.standard_normal((4, 5))
    out, cache = layers.dropout_forward(Z, 0.4, mask_rng(), True)
    dZ = layers.dropout_backward(R[0, :, :3].sum() * np.ones_like(Z), cache)
    num = numeric_grad(lambda: R[0, :, :3].sum() * float(np.sum(
        layers.dropout_forward(Z, 0.4, mask_rng(), True)[0])), Z)
    assert relative_error(dZ, num) < TOLERANCE
    assert layers.dropout_forward(Z, 0.4, mask_rng(), False)[0] is Z  # identity at eval


def test_softmax_cross_entropy_is_stable_and_right():
    logits = np.array([[1000.0, 0.0, -1000.0], [0.0, 0.0, 0.0]])
    loss, d = layers.softmax_cross_entropy(logits, np.array([0, 2]))
    assert loss == pytest.approx((0.0 + math.log(3)) / 2)
    assert layers.cross_entropy(logits, np.array([0, 2])) == loss
    assert np.all(np.isfinite(d))
    np.testing.assert_allclose(d.sum(axis=1), 0, atol=1e-15)


@pytest.mark.parametrize("cell", CELLS)
def test_windows_with_carried_state_equal_the_whole_sequence(cell):
    spec = model.ModelSpec(cell, 13, 6, 8, 2)
    rng = np.random.default_rng(1)
    params = model.init_params(spec, rng, np.float64)
    x = rng.integers(0, 13, (3, 12))
    state0 = model.zero_state(spec, 3, np.float64)
    whole, final, _ = model.forward(params, spec, x, state0)  # (12, 3, V)
    state, parts = state0, []
    for cut in (slice(0, 5), slice(5, 9), slice(9, 12)):  # uneven windows on purpose
        logits, state, _ = model.forward(params, spec, x[:, cut], state)
        parts.append(logits)
    np.testing.assert_allclose(np.concatenate(parts), whole, rtol=1e-12, atol=1e-12)
    for a, b in zip(final, state):
        for u, v in zip(a, b):
            np.testing.assert_allclose(u, v, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cell", CELLS)
def test_initial_loss_is_close_to_log_vocab(cell):
    V = 65
    spec = model.ModelSpec(cell, V, 16, 32, 2)
    rng = np.random.default_rng(2)
    params = model.init_params(spec, rng)
    x = rng.integers(0, V, (8, 20))
    y = rng.integers(0, V, (8, 20))
    loss, _, _, _ = model.loss_and_grads(params, spec, x, y, model.zero_state(spec, 8))
    assert abs(loss - math.log(V)) < 0.05 * math.log(V)


@pytest.mark.parametrize("cell", CELLS)
def test_tiny_model_overfits_tiny_text(cell):
    text = "the cat sat on the mat. " * 4
    chars = sorted(set(text))
    ids = np.array([chars.index(c) for c in text])
    spec = model.ModelSpec(cell, len(chars), 8, 32, 1)
    rng = np.random.default_rng(3)
    params = model.init_params(spec, rng)
    opt = Adam(params)
    x, y = ids[None, :-1], ids[None, 1:]
    for _ in range(300):
        loss, grads, _, _ = model.loss_and_grads(params, spec, x, y, model.zero_state(spec, 1))
        clip_by_norm(grads, 5.0)
        opt.step(params, grads, 1e-2)
    # The text is periodic with period 24 and only the first few characters are unpredictable.
    assert loss < 0.25, loss


def test_step_norms_shape_and_dtype():
    spec = model.ModelSpec("lstm", 10, 4, 6, 3)
    rng = np.random.default_rng(0)
    params = model.init_params(spec, rng)
    x = rng.integers(0, 10, (2, 7))
    loss, grads, state, norms = model.loss_and_grads(params, spec, x, x, model.zero_state(spec, 2))
    assert norms.shape == (3, 7) and np.all(np.isfinite(norms)) and np.all(norms > 0)
    assert set(grads) == set(params)
    assert {k: p.shape for k, p in params.items()} == model.param_shapes(spec)
    assert all(grads[k].shape == params[k].shape and grads[k].dtype == np.float32 for k in params)


@pytest.mark.parametrize("cell", CELLS)
def test_param_shapes_describe_init_params(cell):
    spec = model.ModelSpec(cell, 9, 3, 5, 2)
    params = model.init_params(spec, np.random.default_rng(0))
    assert {k: p.shape for k, p in params.items()} == model.param_shapes(spec)


@pytest.mark.parametrize("cell", CELLS)
def test_flow_only_backward_gives_the_same_norms_and_state_gradient(cell):
    """param_grads=False (the probe) skips the weight products and changes nothing else."""
    spec = model.ModelSpec(cell, 9, 4, 6, 2)
    rng = np.random.default_rng(4)
    params = model.init_params(spec, rng, np.float64)
    x = rng.integers(0, 9, (3, 7))
    logits, _, cache = model.forward(params, spec, x, model.zero_state(spec, 3, np.float64))
    dlogits = rng.standard_normal(logits.shape)
    grads, norms, dstate = model.backward(params, spec, dlogits, cache)
    none, norms2, dstate2 = model.backward(params, spec, dlogits, cache, param_grads=False)
    assert none == {} and len(grads) == len(params)
    np.testing.assert_allclose(norms2, norms, rtol=1e-13)
    for a, b in zip(dstate, dstate2):
        for u, v in zip(a, b):
            np.testing.assert_allclose(v, u, rtol=1e-13)
