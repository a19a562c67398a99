"""Training recipes: every regulariser and BPTT mode gradient-checked in float64 (masks held
fixed), the checks shown able to fail, what each mask does, the BPTT modes' windows, bit-exact
resume with all of them on, the config errors, and every config in configs/ training 20 steps."""

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from rnnlm import model
from rnnlm.cli import app
from rnnlm.config import build, load_config
from rnnlm.model import lm
from rnnlm.model.gradcheck import MODE_WINDOWS, TOLERANCE, check_config, check_model
from rnnlm.nn import heads, regularisers
from rnnlm.run.checkpoint import load_checkpoint
from rnnlm.train.bptt import variable_length

ROOT = Path(__file__).resolve().parents[1]
WORDS = "the quick brown fox jumps over a lazy dog while cats sit on warm mats".split()
CELLS = ["rnn_tanh", "rnn_relu", "gru", "lstm"]
REGULARISERS = {
    "separate-rates": dict(dropout_embed=0.2, dropout_layers=0.3, dropout_output=0.5),
    "locked": dict(dropout=0.3, dropout_locked=True),
    "words": dict(dropout_words=0.4),
    "weight-drop": dict(weight_drop=0.4),
    "tied": dict(tie_weights=True),
    "ar": dict(ar=2.0, dropout=0.3),
    "tar": dict(tar=1.5),
    "all": dict(dropout=0.2, dropout_output=0.4, dropout_locked=True, dropout_words=0.2,
                weight_drop=0.3, tie_weights=True, ar=2.0, tar=1.0),
    # untied, the training step goes through the head's own loss (not the logits): check it too,
    # with the full and with the adaptive head
    "all-untied": dict(dropout=0.2, dropout_output=0.4, dropout_locked=True, dropout_words=0.2,
                       weight_drop=0.3, ar=2.0, tar=1.0),
    "all-adaptive": dict(dropout=0.2, dropout_locked=True, dropout_words=0.2, weight_drop=0.3,
                         ar=2.0, tar=1.0, head="adaptive", adaptive_cutoffs=(3, 7)),
}


def spec(cell="lstm", layers=2, **kw):
    D = 5 if kw.get("tie_weights") else 4
    return model.ModelSpec(cell, 11, D, 5, layers, **kw)


# ---------------------------------------------------------------- gradient checks
@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("name", REGULARISERS)
def test_gradcheck_with_each_regulariser(cell, name):
    errors = check_model(spec(cell, **REGULARISERS[name]))
    assert max(errors.values()) < TOLERANCE, errors


@pytest.mark.parametrize("name", ["all-untied", "all-adaptive"])
def test_the_head_loss_path_and_the_logits_path_agree(name):
    s = spec("lstm", **REGULARISERS[name])
    for path in ("train", "logits"):
        errors = check_model(s, path=path)
        assert max(errors.values()) < TOLERANCE, (path, errors)


@pytest.mark.parametrize("mode", MODE_WINDOWS)
@pytest.mark.parametrize("cell", ["lstm", "rnn_relu"])
def test_gradcheck_in_each_bptt_mode(mode, cell):
    errors, _ = check_config(spec(cell, **REGULARISERS["all"]), None, mode)
    assert max(errors.values()) < TOLERANCE, errors


def test_the_checks_can_fail(monkeypatch):
    """Each regulariser's backward, broken on purpose, fails its check."""
    s = spec(**REGULARISERS["all"])
    assert max(check_model(s).values()) < TOLERANCE
    breakages = [
        (regularisers, "weight_drop_backward", lambda g, keep: g),  # gradient not through the mask
        (regularisers, "ar_backward", lambda cache: 0.0 * cache[0]),
        (regularisers, "tar_backward", lambda cache: None),
    ]
    for module, name, broken in breakages:
        with monkeypatch.context() as m:
            m.setattr(lm, name, broken)
            assert max(check_model(s).values()) > 1e-3, name
    with monkeypatch.context() as m:  # the tied head forgetting the embedding's own gradient
        m.setattr(lm, "embedding_backward", lambda *a, **k: None)
        assert check_model(s)["embed.W"] > 1e-3


def test_k1k2_loss_is_the_mean_over_the_last_positions():
    s = spec(dropout=0.2)
    p = _params(s)
    rng = np.random.default_rng(10)
    x, y = rng.integers(0, 11, (3, 6)), rng.integers(0, 11, (3, 6))
    st = model.zero_state(s, 3, np.float64)
    r = model.window_loss_and_grads(p, s, x, y, st, None, False, loss_from=4)
    logits, _, _ = lm.forward(p, s, x, st)
    want = heads.cross_entropy(logits[4:].reshape(6, 11), y[:, 4:].T.reshape(6))
    assert abs(r.loss - want) < 1e-12
    # and the gradient check's objective is the same function
    assert model.loss_weights(6, 3, 4, np, np.float64)[:12].sum() == 0


def test_rnnlm_gradcheck_checks_the_configs_regularisers_and_mode():
    r = CliRunner().invoke(app, ["gradcheck", str(ROOT / "configs" / "word-awd.yaml"),
                                 "--set", "train.bptt_mode=k1k2", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["passed"] and out["bptt_mode"] == "k1k2" and "head.W" not in out["errors"]
    assert out["regularisers"]["weight_drop"] == 0.3 and out["regularisers"]["tie_weights"]


# ---------------------------------------------------------------- what the masks do
def _params(s, seed=0):
    return model.init_params(s, np.random.default_rng(seed), np.float64)


def test_dropout_is_the_default_of_each_rate():
    s = model.ModelSpec("lstm", 11, 4, 5, 2, dropout=0.3, dropout_layers=0.0)
    assert (s.rate("embed"), s.rate("layers"), s.rate("output")) == (0.3, 0.0, 0.3)
    cfg = load_config(None, ["model.dropout=0.3", "model.dropout_output=0.5"])
    built = build.model_spec(cfg, 11)
    assert (built.rate("embed"), built.rate("layers"), built.rate("output")) == (0.3, 0.3, 0.5)
    masks = model.draw_masks(built, 6, 3, np.random.default_rng(0), np.float64)
    assert masks.layers[0] is not None and masks.layers[1] is not None
    assert set(np.unique(masks.layers[1])) == {0.0, 2.0}  # 1 / (1 - 0.5)


def test_locked_dropout_is_one_mask_per_sequence():
    s = spec(dropout=0.5, dropout_locked=True)
    x = np.random.default_rng(1).integers(0, 11, (3, 7))
    _, _, cache = lm.forward(_params(s), s, x, model.zero_state(s, 3, np.float64),
                             np.random.default_rng(2), train=True)
    for keep in cache.drops:
        assert keep.shape[0] == 1 and keep.shape[1] == 3  # (1, B, F): every step alike
    a = cache.drops[0]
    assert 0 < (a == 0).mean() < 1


def test_word_dropout_drops_every_occurrence_of_a_word():
    s = spec(dropout_words=0.5)
    p = _params(s)
    x = np.tile(np.arange(11), (2, 2))  # every word several times
    masks = model.draw_masks(s, x.shape[1], 2, np.random.default_rng(3), np.float64)
    dropped = np.flatnonzero(masks.words == 0)
    assert 0 < len(dropped) < 11
    _, _, cache = lm.forward(p, s, x, model.zero_state(s, 2, np.float64), None, True, masks)
    scale = cache.words[..., 0]  # (T, B) per token
    assert np.all((scale == 0) == np.isin(x.T, dropped))


def test_weight_drop_is_the_cell_seeing_the_masked_W_h():
    s = spec(weight_drop=0.5)
    p = _params(s)
    x = np.random.default_rng(4).integers(0, 11, (3, 6))
    st = model.zero_state(s, 3, np.float64)
    masks = model.draw_masks(s, 6, 3, np.random.default_rng(5), np.float64)
    logits, _, _ = lm.forward(p, s, x, st, None, True, masks)
    plain = dict(p)
    for l in range(2):
        plain[f"rnn.{l}.W_h"] = p[f"rnn.{l}.W_h"] * masks.weights[l]
    same, _, _ = lm.forward(plain, model.ModelSpec("lstm", 11, 4, 5, 2), x, st)
    np.testing.assert_allclose(logits, same, rtol=1e-13)
    assert np.array_equal(lm.forward(p, s, x, st)[0], lm.forward(p, s, x, st, train=False)[0])


def test_tied_weights_are_one_parameter():
    s = spec(tie_weights=True)
    p = _params(s)
    assert "head.W" not in p and "head.W" not in model.param_shapes(s)
    x = np.random.default_rng(6).integers(0, 11, (2, 5))
    loss, grads, _, _ = model.loss_and_grads(p, s, x, x, model.zero_state(s, 2, np.float64))
    assert set(grads) == set(p)
    assert abs(loss - np.log(11)) < 0.1 * np.log(11)  # embed.W starts like an output layer


def test_penalty_is_logged_apart_from_the_cross_entropy():
    s = spec(ar=2.0, tar=1.0)
    p = _params(s)
    x = np.random.default_rng(7).integers(0, 11, (2, 5))
    st = model.zero_state(s, 2, np.float64)
    r = model.window_loss_and_grads(p, s, x, x, st, np.random.default_rng(0))
    plain = model.window_loss_and_grads(p, spec(), x, x, st, np.random.default_rng(0))
    assert r.penalty > 0 and r.loss == plain.loss  # `loss` is the cross-entropy alone
    assert not np.allclose(r.grads["rnn.1.W_h"], plain.grads["rnn.1.W_h"])


# ---------------------------------------------------------------- BPTT modes
def test_variable_lengths_follow_the_draw_and_bounds():
    rng = np.random.default_rng(0)
    lengths = np.array([variable_length(rng, 35, 5.0, 0.95, 5) for _ in range(4000)])
    assert lengths.min() >= 5 and lengths.max() <= 70
    assert 33 < np.median(lengths) < 36 and 0.02 < (lengths < 25).mean() < 0.09
    again = np.random.default_rng(0)
    assert [variable_length(again, 35, 5.0, 0.95, 5) for _ in range(10)] == list(lengths[:10])


def test_k1k2_carries_the_state_from_k1_steps_into_the_window():
    s = spec(dropout=0.3, dropout_locked=False, weight_drop=0.3)
    p = _params(s)
    x = np.random.default_rng(8).integers(0, 11, (3, 9))
    st = model.zero_state(s, 3, np.float64)
    r = model.window_loss_and_grads(p, s, x, x, st, np.random.default_rng(9), True, loss_from=5,
                                 carry=4)
    masks = model.draw_masks(s, 9, 3, np.random.default_rng(9), np.float64)
    _, want, _ = lm.forward(p, s, x[:, :4], st, None, True, masks.window(0, 4))
    for a, b in zip(r.state, want):
        for u, v in zip(a, b):
            np.testing.assert_allclose(u, v, rtol=1e-12)


def _corpus(d, n=400):
    rng = np.random.default_rng(1)
    (d / "text.txt").write_text("\n".join(" ".join(rng.choice(WORDS, 12)) for _ in range(n)))
    return d / "text.txt"


def _train(cfg, out, *args):
    r = CliRunner().invoke(app, ["train", str(cfg), "--out", str(out), "--no-progress", *args])
    assert r.exit_code == 0, r.output
    return r.output


def _sets(overrides):
    return [a for kv in overrides for a in ("--set", kv)]


def _records(run, kind):
    return [r for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())
            if r["kind"] == kind]


@pytest.fixture(scope="module")
def recipe(tmp_path_factory):
    d = tmp_path_factory.mktemp("recipe")
    (d / "c.txt").write_text(" ".join(np.random.default_rng(0).choice(WORDS, 300)) + "\n")
    cfg = d / "recipe.yaml"
    cfg.write_text(f"data: {{corpus: {d / 'c.txt'}, valid_fraction: 0.1}}\n"
                   "model: {cell: lstm, layers: 2, embed_size: 10, hidden_size: 10, tie_weights: true,\n"
                   "        dropout_locked: true, dropout: 0.2, dropout_words: 0.1, weight_drop: 0.3,\n"
                   "        ar: 2.0, tar: 1.0}\n"
                   "train: {batch_size: 4, bptt: 8, max_steps: 40, log_every: 1, eval_every: 10,\n"
                   "        sample_length: 0, keep_checkpoints: 2, probe_every: 7}\n"
                   "optim: {name: adam, lr: 0.01}\n")
    return cfg


@pytest.mark.parametrize("mode", ["fixed", "k1k2", "variable"])
def test_resume_is_bit_exact_in_each_mode(recipe, tmp_path, mode):
    extra = [f"train.bptt_mode={mode}", "train.k1=3", "train.k2=7", "train.bptt_std=3",
             "train.bptt_min=2"]
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    _train(recipe, whole, *_sets(extra))
    _train(recipe, cut, *_sets(extra + ["train.max_steps=20"]))
    _train(recipe, cut, "--resume", *_sets(extra))
    a, b = _records(whole, "train"), _records(cut, "train")
    assert [(r["step"], r["loss"], r["penalty"], r["lr"]) for r in a] == \
        [(r["step"], r["loss"], r["penalty"], r["lr"]) for r in b]
    pa, _ = load_checkpoint(whole / "checkpoints" / "last.npz")
    pb, ma = load_checkpoint(cut / "checkpoints" / "last.npz")
    assert all(np.array_equal(pa[k], pb[k]) for k in pa) and "head.W" not in pa
    lengths = {len(r["step_norms"][0]) for r in a}
    if mode == "fixed":
        assert 8 in lengths and len(lengths) <= 2 and ma["position"] == 0  # the last window is shorter
    elif mode == "k1k2":  # windows of up to k2 = 7 steps, loss on the last 3: 12 tokens a step
        assert max(lengths) == 7 and {r["tokens"] for r in a} >= {12 * r["step"] for r in a[:3]}
    else:
        assert len(lengths) > 2 and len({r["lr"] for r in a}) > 2  # lr scaled by T / bptt
    assert _records(whole, "probe")  # the probe works in every mode
    r = CliRunner().invoke(app, ["inspect", str(whole), "--json"])
    assert r.exit_code == 0, r.output  # the report copes with step norms of any length
    rep = json.loads(r.output)
    assert len(rep["layers"][0]["step_norms"]) == len(a[-1]["step_norms"][0])


def test_k1k2_counts_each_token_once_per_pass(tmp_path):
    """Over one pass the new blocks tile the streams' columns exactly."""
    from types import SimpleNamespace
    from rnnlm.train.bptt import next_window
    from rnnlm.train.state import fresh_state
    cfg = load_config(None, ["train.bptt_mode=k1k2", "train.k1=3", "train.k2=5"])
    s = model.ModelSpec("lstm", 11, 4, 5, 1)
    streams = np.arange(2 * 21).reshape(2, 21)
    run = SimpleNamespace(cfg=cfg, ts=fresh_state(s, 2, np.float32, np.random.default_rng(0)),
                          streams=streams, spec=s, dtype=np.float32, xp=np)
    counted, start = [], 0
    for _ in range(7):
        w = next_window(run)
        counted.extend(w.x[0, w.loss_from:].tolist())
        assert w.x.shape[1] <= 5 and w.x.shape[1] - w.loss_from <= 3
        assert w.x[0, 0] == start  # the window starts where the carried state is
        start += w.carry
    assert counted == list(range(20)) and run.ts.epoch == 1
    next_window(run)
    assert run.ts.epoch == 2


# ---------------------------------------------------------------- config errors
@pytest.mark.parametrize("sets, words", [
    (["model.tie_weights=true", "model.embed_size=8", "model.hidden_size=16"], "embed_size == model.hidden_size"),
    (["model.recurrent_init=identity", "model.cell=lstm"], "plain RNNs"),
    (["train.bptt_mode=k1k2", "train.k1=20", "train.k2=10"], "must be >= train.k1"),
    (["model.dropout_embed=-0.5"], "-1 (= model.dropout)"),
])
def test_nonsense_recipes_are_one_line(tmp_path, sets, words):
    r = CliRunner().invoke(app, ["gradcheck", *_sets(sets)])
    assert r.exit_code != 0 and words in r.output and "Traceback" not in r.output


def test_identity_init_is_the_identity():
    cfg = load_config(None, ["model.cell=rnn_relu", "model.recurrent_init=identity",
                             "model.recurrent_gain=0.5", "model.layers=1"])
    s = build.model_spec(cfg, 11)
    p = model.init_params(s, np.random.default_rng(0), np.float64, build.init_spec(cfg))
    assert np.array_equal(p["rnn.0.W_h"], 0.5 * np.eye(cfg.model.hidden_size))
    normal = model.init_params(s, np.random.default_rng(0), np.float64,
                               model.InitSpec(recurrent_init="normal"))
    assert abs(normal["rnn.0.W_h"].std() * np.sqrt(cfg.model.hidden_size) - 1) < 0.05


# ---------------------------------------------------------------- every config trains
CONFIGS = sorted(p.name for p in (ROOT / "configs").glob("*.yaml"))


@pytest.mark.parametrize("name", CONFIGS)
def test_every_config_trains_20_steps(tmp_path, name):
    raw = yaml.safe_load((ROOT / "configs" / name).read_text())
    text = _corpus(tmp_path)
    data = ([f"data.{k}={text}" for k in ("train", "valid", "test")] if raw["data"].get("train")
            else [f"data.corpus={text}"])
    small = ["model.embed_size=16", "model.hidden_size=16"] if \
        raw["model"].get("hidden_size", 256) > 64 else []
    if raw["data"].get("tokenizer") == "bpe":
        small.append("data.vocab_size=300")
    out = _train(ROOT / "configs" / name, tmp_path / "run", *_sets(
        data + small + ["train.max_steps=20", "train.log_every=5", "train.eval_every=10",
                        "train.sample_length=5", "train.batch_size=4", "train.bptt=12"]))
    assert "trained 20 steps" in out
    losses = [r["loss"] for r in _records(tmp_path / "run", "train")]
    assert len(losses) == 4 and all(np.isfinite(losses))
