"""The output heads: the full head's one-buffer loss against the simple path, the adaptive softmax
gradient-checked in float64 (its training loss and its logits), normalized, routed through the
model (training, evaluation, sampling) and chosen from a config end to end."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from rnnlm import model
from rnnlm.cli import app
from rnnlm.model.gradcheck import TOLERANCE, check_model, numeric_grad, relative_error
from rnnlm.nn.heads import get_head, log_softmax, softmax_cross_entropy
from rnnlm.nn.heads.adaptive import check_cutoffs
from rnnlm.nn.layers import linear_backward, linear_forward

H, V, CUTS = 6, 13, (4, 9)  # a head of 4 words + 2 cluster entries, tails of 5 and 4 words


def _head(name, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    hp = {k: v.astype(dtype) for k, v in get_head(name).init(H, V, CUTS, rng, 0.5).items()}
    for k in hp:
        if k.rsplit(".", 1)[-1].startswith("b"):
            hp[k] += rng.uniform(-0.2, 0.2, hp[k].shape).astype(dtype)
    X = rng.standard_normal((12, H)).astype(dtype)
    y = rng.integers(0, V, 12)
    y[:3] = [0, 5, 12]  # the head, the first and the last cluster at least once
    return hp, X, y


def test_full_head_loss_equals_the_simple_path_in_float32():
    hp, X, y = _head("full", np.float32)
    grads = {}
    loss, dX = get_head("full").loss(hp, X, y, grads, "head.")
    logits, cache = linear_forward(X, hp["W"], hp["b"])
    ref_loss, dlogits = softmax_cross_entropy(logits, y)
    ref = {}
    ref_dX = linear_backward(dlogits, cache, ref, ("W", "b"))
    assert loss == pytest.approx(ref_loss, rel=1e-6)
    np.testing.assert_allclose(dX, ref_dX, rtol=1e-5, atol=1e-7)
    for k in ("W", "b"):
        np.testing.assert_allclose(grads["head." + k], ref[k], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(get_head("full").nll(hp, X, y),
                               -log_softmax(logits)[np.arange(12), y], rtol=1e-5)


@pytest.mark.parametrize("name", ["full", "adaptive"])
def test_head_gradients_float64(name):
    """The training loss and the logits path, each against central differences."""
    head = get_head(name)
    hp, X, y = _head(name)
    grads = {}
    _, dX = head.loss(hp, X, y, grads)
    loss = lambda: head.loss(hp, X, y)[0]  # noqa: E731
    errors = {k: relative_error(grads[k], numeric_grad(loss, v)) for k, v in hp.items()}
    errors["X"] = relative_error(dX, numeric_grad(loss, X))
    # through the logits: any smooth function of them, here a weighted sum of the log-probs
    w = np.random.default_rng(1).standard_normal((12, V))
    lg = {}
    dX2 = head.logits_backward(hp, X, w, lg)
    f = lambda: float((head.logits(hp, X) * w).sum())  # noqa: E731
    errors.update({"logits " + k: relative_error(lg[k], numeric_grad(f, v)) for k, v in hp.items()})
    errors["logits X"] = relative_error(dX2, numeric_grad(f, X))
    assert max(errors.values()) < TOLERANCE, errors


def test_adaptive_distribution_is_normalized_and_agrees_with_its_loss():
    head = get_head("adaptive")
    hp, X, y = _head("adaptive")
    logp = head.logits(hp, X)  # (N, V) log-probabilities
    np.testing.assert_allclose(np.exp(logp).sum(axis=1), 1.0, rtol=1e-12)
    nll = head.nll(hp, X, y)
    np.testing.assert_allclose(nll, -logp[np.arange(12), y], rtol=1e-12)
    assert head.loss(hp, X, y)[0] == pytest.approx(nll.mean(), rel=1e-12)
    # a cluster no target falls in still gets (zero) gradients, so the optimizer sees every name
    grads = {}
    head.loss(hp, X[:1], np.array([0]), grads, "head.")
    assert set(grads) == {"head." + k for k in hp} and not grads["head.adaptive.W2"].any()


def test_adaptive_shapes_and_bad_cutoffs():
    shapes = get_head("adaptive").param_shapes(64, 100, (20, 50))
    assert shapes["adaptive.W0"] == (64, 22) and shapes["adaptive.P1"] == (64, 16)
    assert shapes["adaptive.W1"] == (16, 30) and shapes["adaptive.P2"] == (64, 4)
    assert shapes["adaptive.b2"] == (50,)
    for bad in [(), (0, 5), (5, 5), (7, 3), (3, 100)]:
        with pytest.raises(ValueError):
            check_cutoffs(bad, 100)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn_tanh"])
@pytest.mark.parametrize("path", ["train", "logits"])
def test_model_gradcheck_adaptive(cell, path):
    spec = model.ModelSpec(cell, 11, 4, 5, 2, 0.3, head="adaptive", adaptive_cutoffs=(3, 7))
    errors = check_model(spec, path=path)
    assert max(errors.values()) < TOLERANCE, errors
    assert "head.adaptive.W2" in errors


def test_model_paths_agree_for_the_adaptive_head():
    spec = model.ModelSpec("lstm", 11, 4, 5, 2, head="adaptive", adaptive_cutoffs=(3, 7))
    params = model.init_params(spec, np.random.default_rng(0), np.float64)
    rng = np.random.default_rng(1)
    x, y = rng.integers(0, 11, (3, 6)), rng.integers(0, 11, (3, 6))
    state = model.zero_state(spec, 3, np.float64)
    logits, _, _ = model.forward(params, spec, x, state)  # (T, B, V) log-probabilities
    logp = log_softmax(logits)
    loss, _ = model.evaluate_loss(params, spec, x, y, state)
    assert loss == pytest.approx(-np.mean(np.take_along_axis(logp, y.T[..., None], 2)), rel=1e-12)
    assert model.loss_and_grads(params, spec, x, y, state)[0] == pytest.approx(loss, rel=1e-12)
    last, _ = model.next_logits(params, spec, x, state)  # (B, V) the last position only
    np.testing.assert_allclose(last, logits[-1], rtol=1e-12)


def test_train_eval_sample_with_the_adaptive_head(tmp_path):
    corpus = tmp_path / "text.txt"
    corpus.write_text("the cat sat on the mat and the dog sat on the log. " * 40)
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(f"data:\n  corpus: {corpus}\nmodel:\n  head: adaptive\n  adaptive_cutoffs: "
                   "'5,10'\n  embed_size: 8\n  hidden_size: 16\ntrain:\n  batch_size: 4\n"
                   "  bptt: 10\n  max_steps: 6\n  eval_every: 3\n  sample_length: 5\n")
    run = lambda *a: CliRunner().invoke(app, [str(x) for x in a])  # noqa: E731
    out = tmp_path / "run"
    r = run("train", cfg, "--out", out, "--no-progress")
    assert r.exit_code == 0, r.output
    with np.load(out / "checkpoints" / "last.npz", allow_pickle=False) as z:
        assert z["head.adaptive.W0"].shape == (16, 7) and "head.W" not in z.files
    assert run("eval", out).exit_code == 0
    r = run("sample", out, "--length", "20", "--seed", "3")
    assert r.exit_code == 0 and len(r.output.strip()) > 0, r.output
    bad = run("train", cfg, "--out", tmp_path / "bad", "--no-progress",
              "--set", "model.adaptive_cutoffs=5,999")
    assert bad.exit_code != 0 and "model.adaptive_cutoffs" in bad.output
    errors = [line for line in bad.output.splitlines() if line.startswith("rnnlm: error:")]
    assert "Traceback" not in bad.output and len(errors) == 1


def test_rnnlm_gradcheck_checks_the_adaptive_head_of_a_config():
    """The config's cutoffs are for its corpus; the small copy gets its own (no error for them)."""
    r = CliRunner().invoke(app, ["gradcheck", "--set", "model.head=adaptive", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["passed"] and any(k.startswith("head.adaptive.") for k in out["errors"])


def _confident_logits(N=40, C=3000, seed=1):
    """float32 logits of an over-confident model: most entries 60-200 nats below the row's best,
    where exp underflows into subnormal floats (the case that made a head 3x slower)."""
    rng = np.random.default_rng(seed)
    Z = rng.uniform(-200, -60, (N, C))
    Z[np.arange(N), rng.integers(0, C, N)] = 0.0
    Z[:, :5] = rng.uniform(-20, 0, (N, 5))
    return Z.astype(np.float32), rng.integers(0, C, N)


def _reference(Z, y):
    """Loss, mean gradient and log-probabilities of float32 logits, computed in float64."""
    Z = Z.astype(np.float64)
    logp = Z - Z.max(1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(1, keepdims=True))
    N = Z.shape[0]
    g = np.exp(logp) / N
    g[np.arange(N), y] -= 1.0 / N
    return -logp[np.arange(N), y].mean(), g, logp


def _subnormal(a):
    a = np.abs(a)
    return int(((a > 0) & (a < np.finfo(a.dtype).tiny)).sum())


def test_softmax_makes_no_subnormal_floats_and_stays_exact():
    from rnnlm.nn.heads.softmax import nll_, softmax_cross_entropy_
    Z, y = _confident_logits()
    N = Z.shape[0]
    loss64, g64, logp64 = _reference(Z, y)
    np.testing.assert_allclose(log_softmax(Z), logp64, rtol=1e-6, atol=1e-4)  # -185 stays -185
    loss, g = softmax_cross_entropy(Z, y)
    assert loss == pytest.approx(loss64, rel=1e-6) and _subnormal(g) == 0
    np.testing.assert_allclose(g, g64, rtol=1e-5, atol=1e-30)
    W = Z.copy()
    total = softmax_cross_entropy_(W, y, N)
    assert float(total) / N == pytest.approx(loss64, rel=1e-6) and _subnormal(W) == 0
    np.testing.assert_allclose(W, g64, rtol=1e-5, atol=1e-30)
    np.testing.assert_allclose(nll_(Z.copy(), y), -logp64[np.arange(N), y], rtol=1e-6)
    assert _subnormal(np.exp(Z - Z.max(1, keepdims=True))) > 0  # the case is real: plain exp makes them
