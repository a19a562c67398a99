import math

import numpy as np
import pytest

from rnnlm.optim import clip_by_norm, clip_by_value, global_norm, learning_rate
from rnnlm.optim.adagrad import Adagrad
from rnnlm.optim.adam import Adam
from rnnlm.optim.adamw import AdamW
from rnnlm.optim.ntasgd import NTASGD
from rnnlm.optim.rmsprop import RMSprop
from rnnlm.optim.sgd import SGD


def test_clip_by_norm_scales_all_gradients_together():
    g = {"a": np.array([3.0, 0.0]), "b": np.array([[4.0]])}
    before, after, fired = clip_by_norm(g, 1.0)
    assert (before, fired) == (5.0, True)
    assert after == pytest.approx(1.0) and global_norm(g) == pytest.approx(1.0)
    np.testing.assert_allclose(g["a"], [0.6, 0.0])
    g2 = {"a": np.array([0.3, 0.4])}
    assert clip_by_norm(g2, 1.0) == (pytest.approx(0.5), pytest.approx(0.5), False)
    assert clip_by_norm({"a": np.array([30.0, 40.0])}, 0.0)[2] is False  # 0 = off


def test_clip_by_value():
    g = {"a": np.array([-3.0, 0.5, 2.0])}
    assert clip_by_value(g, 1.0) is True
    np.testing.assert_array_equal(g["a"], [-1.0, 0.5, 1.0])
    assert clip_by_value(g, 0.0) is False


def test_adam_matches_the_textbook_update():
    rng = np.random.default_rng(0)
    p = {"w": rng.standard_normal(4)}
    ref = p["w"].copy()
    m = v = np.zeros(4)
    opt = Adam(p, 0.9, 0.999, 1e-8)
    for t in range(1, 4):
        g = rng.standard_normal(4)
        opt.step(p, {"w": g.copy()}, 0.01)
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        ref = ref - 0.01 * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
    np.testing.assert_allclose(p["w"], ref, rtol=1e-12)
    state = opt.state_dict()
    opt2 = Adam({"w": p["w"].copy()})
    opt2.load_state_dict(state)
    assert opt2.t == 3 and np.array_equal(opt2.m["w"], opt.m["w"])


def test_sgd_momentum():
    p = {"w": np.array([1.0])}
    opt = SGD(p, momentum=0.5)
    opt.step(p, {"w": np.array([1.0])}, 0.1)  # v = 1
    opt.step(p, {"w": np.array([1.0])}, 0.1)  # v = 1.5
    assert p["w"][0] == pytest.approx(1.0 - 0.1 - 0.15)


def test_schedules():
    assert learning_rate(5, 1.0) == 1.0
    assert learning_rate(0, 1.0, warmup_steps=4) == 0.25
    assert learning_rate(0, 1.0, "cosine", 0, 100) == pytest.approx(1.0)
    assert learning_rate(50, 1.0, "cosine", 0, 100) == pytest.approx(0.5)
    assert learning_rate(100, 1.0, "cosine", 0, 100, 0.1) == pytest.approx(0.1)
    assert learning_rate(25, 1.0, "linear", 0, 100) == pytest.approx(0.75)
    assert math.isclose(learning_rate(10, 2.0, "constant", 10, 100), 2.0)


# Each optimizer's first steps against numbers worked out by hand from its update equations.
# One-element parameters with gradients chosen so that the square roots come out whole.

def _run(opt_cls, p0, grads, lr, **kw):
    p = {"w": np.array(p0, dtype=float)}
    opt = opt_cls(p, **kw)
    seen = []
    for g in grads:
        opt.step(p, {"w": np.array(g, dtype=float)}, lr)
        seen.append(p["w"].copy())
    return np.array(seen), opt


def test_sgd_nesterov_by_hand():
    # mu 0.5, lr 0.1, g = 1 twice. v1 = 1, step g + mu v1 = 1.5 -> 1 - 0.15 = 0.85;
    # v2 = 0.5 + 1 = 1.5, step 1 + 0.75 = 1.75 -> 0.85 - 0.175 = 0.675.
    seen, _ = _run(SGD, [1.0], [[1.0], [1.0]], 0.1, momentum=0.5, nesterov=True)
    np.testing.assert_allclose(seen[:, 0], [0.85, 0.675], rtol=1e-15)
    with pytest.raises(ValueError):
        SGD({"w": np.zeros(1)}, nesterov=True)


def test_sgd_decoupled_weight_decay_by_hand():
    # lr 0.1, wd 0.1, g 0.5: 2 - 0.1*0.1*2 = 1.98, - 0.1*0.5 = 1.93;
    # 1.93 - 0.01*1.93 = 1.9107, - 0.05 = 1.8607.
    seen, _ = _run(SGD, [2.0], [[0.5], [0.5]], 0.1, weight_decay=0.1)
    np.testing.assert_allclose(seen[:, 0], [1.93, 1.8607], rtol=1e-14)


def test_adagrad_by_hand():
    # lr 0.1. Element 0: g 3 -> G 9, 1 - 0.1*3/3 = 0.9; g 4 -> G 25, 0.9 - 0.1*4/5 = 0.82;
    # g 0 -> no move. Element 1: g -1 -> G 1, 0 + 0.1 = 0.1; g 0, 0 -> stays 0.1.
    seen, opt = _run(Adagrad, [1.0, 0.0], [[3.0, -1.0], [4.0, 0.0], [0.0, 0.0]], 0.1)
    np.testing.assert_allclose(seen, [[0.9, 0.1], [0.82, 0.1], [0.82, 0.1]], rtol=1e-7)
    np.testing.assert_array_equal(opt.sum_squares["w"], [25.0, 1.0])
    # L2 decay 0.5 with g 0: g' = 0.5, G 0.25, 1 - 0.1*0.5/0.5 = 0.9.
    seen, _ = _run(Adagrad, [1.0], [[0.0]], 0.1, weight_decay=0.5)
    assert seen[0, 0] == pytest.approx(0.9, rel=1e-7)


def test_rmsprop_by_hand():
    # alpha 0.96, lr 0.01. g 5: s = 0.04*25 = 1, 1 - 0.01*5/1 = 0.95;
    # g 1: s = 0.96*1 + 0.04*1 = 1, 0.95 - 0.01*1/1 = 0.94;
    # g -3: s = 0.96 + 0.04*9 = 1.32, 0.94 + 0.03/sqrt(1.32).
    seen, opt = _run(RMSprop, [1.0], [[5.0], [1.0], [-3.0]], 0.01, alpha=0.96)
    np.testing.assert_allclose(seen[:, 0], [0.95, 0.94, 0.94 + 0.03 / math.sqrt(1.32)], rtol=1e-7)
    assert opt.square_avg["w"][0] == pytest.approx(1.32, rel=1e-14)


def test_adam_weight_decay_is_l2_and_adamw_is_decoupled_by_hand():
    # wd 0.5, lr 0.01, g 0 at w 1.
    # adam:  g' = 0.5; m = 0.05, v = 0.00025; m^ = 0.5, v^ = 0.25; 1 - 0.01*0.5/0.5 = 0.99.
    # adamw: m = v = 0, the Adam step is 0; the decay alone: 1 - 0.01*0.5*1 = 0.995.
    seen, _ = _run(Adam, [1.0], [[0.0]], 0.01, weight_decay=0.5)
    assert seen[0, 0] == pytest.approx(0.99, rel=1e-7)
    seen, _ = _run(AdamW, [1.0], [[0.0]], 0.01, weight_decay=0.5)
    assert seen[0, 0] == pytest.approx(0.995, rel=1e-12)


def test_adamw_is_the_former_adam_bit_for_bit():
    """AdamW = what `adam` computed before adamw existed: decay, then the Adam step, in that
    float order (old checkpoints of adam runs with weight decay resume as adamw)."""
    rng = np.random.default_rng(3)
    p = {"w": rng.standard_normal(5).astype(np.float32)}
    ref = p["w"].copy()
    m, v = np.zeros(5, np.float32), np.zeros(5, np.float32)
    opt = AdamW(p, weight_decay=0.1)
    lr, b1, b2, f = 0.01, 0.9, 0.999, np.float32
    for t in range(1, 4):
        g = rng.standard_normal(5).astype(np.float32)
        opt.step(p, {"w": g}, lr)
        m = m * f(b1) + f(1 - b1) * g
        v = v * f(b2) + f(1 - b2) * (g * g)
        ref -= f(lr * 0.1) * ref
        step = lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        ref -= f(step) * m / (np.sqrt(v) + f(1e-8 * math.sqrt(1 - b2 ** t)))
    np.testing.assert_array_equal(p["w"], ref)
    # without weight decay adam and adamw are the same update
    a, b = {"w": ref.copy()}, {"w": ref.copy()}
    oa, ob = Adam(a), AdamW(b)
    for _ in range(3):
        g = rng.standard_normal(5).astype(np.float32)
        oa.step(a, {"w": g}, 0.01)
        ob.step(b, {"w": g}, 0.01)
    np.testing.assert_array_equal(a["w"], b["w"])


@pytest.mark.parametrize("cls, kw", [(SGD, {"momentum": 0.9}), (Adagrad, {}), (RMSprop, {}),
                                     (Adam, {}), (AdamW, {}), (NTASGD, {"nonmono": 1})])
def test_state_dict_round_trip_continues_exactly(cls, kw):
    rng = np.random.default_rng(1)
    grads = [{"w": rng.standard_normal(3)} for _ in range(6)]
    p = {"w": np.ones(3)}
    opt = cls(p, **kw)
    for i, g in enumerate(grads[:3]):
        opt.step(p, {"w": g["w"].copy()}, 0.1)
        opt.observe([2.0, 3.0, 2.5][i])  # NT-ASGD (nonmono 1) switches at 2.5 > min([2.0])
    assert getattr(opt, "averaging", True)
    state = {k: np.array(a, copy=True) for k, a in opt.state_dict().items()}
    q = {"w": p["w"].copy()}
    again = cls(q, **kw)
    again.load_state_dict(state)
    for g in grads[3:]:
        opt.step(p, {"w": g["w"].copy()}, 0.1)
        again.step(q, {"w": g["w"].copy()}, 0.1)
    np.testing.assert_array_equal(p["w"], q["w"])
    np.testing.assert_array_equal(opt.eval_params(p)["w"], again.eval_params(q)["w"])


def test_ntasgd_trigger_on_a_scripted_validation_sequence():
    """nonmono 2: switch when v > min(logs[:-2]). Sequence 5, 4, 3, 3.5, 3.6, 4.2:
    3.5 against min(5) = 5 and 3.6 against min(5, 4) = 4: no (two evaluations without a new
    best are not enough by this rule); 4.2 against min(5, 4, 3) = 3: switch."""
    p = {"w": np.array([1.0])}
    opt = NTASGD(p, nonmono=2)
    notes = [opt.observe(v) for v in (5.0, 4.0, 3.0, 3.5, 3.6)]
    assert notes == [None] * 5 and not opt.averaging
    note = opt.observe(4.2)
    assert opt.averaging and "4.2000 is worse than 3.0000" in note
    assert opt.observe(9.0) is None and opt.logs == [5.0, 4.0, 3.0, 3.5, 3.6, 4.2]
    assert opt.observe(float("nan")) is None


def test_ntasgd_averages_the_weights_after_the_switch():
    # lr 0.1, g 1: plain SGD moves 1 -> 0.9 -> 0.8; switch; then 0.7, 0.6, 0.5 with running
    # averages 0.7, (0.7+0.6)/2 = 0.65, (0.7+0.6+0.5)/3 = 0.6. Training goes on from the raw 0.5.
    p = {"w": np.array([1.0])}
    opt = NTASGD(p, nonmono=1)
    g = {"w": np.array([1.0])}
    for v in (2.0, 1.0):
        opt.step(p, g, 0.1)
        opt.observe(v)
    assert opt.eval_params(p) is p  # not averaging yet
    opt.observe(3.0)  # 3.0 > min([2.0]): switch
    assert opt.averaging and opt.eval_params(p) is p  # nothing averaged yet: the raw weights
    want = [(0.7, 0.7), (0.6, 0.65), (0.5, 0.6)]
    for raw, avg in want:
        opt.step(p, g, 0.1)
        assert p["w"][0] == pytest.approx(raw, rel=1e-14)
        assert opt.eval_params(p)["w"][0] == pytest.approx(avg, rel=1e-14)
    assert opt.count == 3


# ---------------------------------------------------------------- row hints (nn.functional.Grads)
def _word_model_grads(tie=False, dropout=0.0):
    """A small untied (or tied) word model's gradients of one training window, float64."""
    from rnnlm import model
    spec = model.ModelSpec("lstm", 50, 6, 6, 2, tie_weights=tie, dropout=dropout,
                           dropout_words=dropout)  # dropped words: hinted rows of zeros
    rng = np.random.default_rng(11)
    params = model.init_params(spec, rng, np.float64)
    x = rng.integers(0, 20, (3, 5))  # ids 0..19 only: rows 20..49 get no gradient
    y = rng.integers(0, 50, (3, 5))
    r = model.window_loss_and_grads(params, spec, x, y, model.zero_state(spec, 3, np.float64),
                                    np.random.default_rng(1))
    return params, x, r.grads


@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_an_untied_embedding_gradient_carries_its_rows_and_is_zero_elsewhere(dropout):
    _, x, grads = _word_model_grads(dropout=dropout)
    rows = grads.rows["embed.W"]
    np.testing.assert_array_equal(rows, np.unique(x))
    others = np.setdiff1d(np.arange(50), rows)
    assert not grads["embed.W"][others].any() and grads["embed.W"][rows].any()
    assert list(grads.rows) == ["embed.W"]  # no other gradient is hinted
    _, _, tied = _word_model_grads(tie=True)  # the head's dense gradient went in first
    assert tied.rows == {}


def test_storing_a_gradient_drops_its_row_hint():
    from rnnlm.nn.functional import Grads, add_grad
    g = Grads(w=np.zeros((4, 2)))
    g.rows["w"] = np.array([1])
    add_grad(g, "w", np.ones((4, 2)))  # now every row is nonzero
    assert g.rows == {}
    g.rows["w"] = np.array([1])
    g["w"] = np.ones((4, 2))
    assert g.rows == {} and dict(g) is not g and not hasattr(dict(g), "rows")


def test_a_second_lookup_of_a_hinted_embedding_widens_its_hint():
    from rnnlm.nn.functional import Grads
    from rnnlm.nn.layers import embedding_backward
    grads = Grads()
    embedding_backward(np.ones((2, 3)), (np.array([4, 1]), (6, 3)), grads, "E")
    embedding_backward(np.ones((2, 3)), (np.array([1, 5]), (6, 3)), grads, "E")
    np.testing.assert_array_equal(grads.rows["E"], [1, 4, 5])
    np.testing.assert_array_equal(grads["E"][:, 0], [0, 2, 0, 0, 1, 1])


@pytest.mark.parametrize("max_norm", [1e-3, 1e3])  # clipping fires, does not
def test_clip_and_sgd_on_hinted_rows_equal_the_dense_passes(max_norm):
    """The norm, the clip's scale and plain SGD's update taken on the hinted rows alone equal
    the same steps over the whole (dense) gradients; momentum SGD ignores the hint."""
    params, _, grads = _word_model_grads()
    assert grads.rows
    results = []
    for hinted in (True, False):
        g = {k: v.copy() for k, v in grads.items()}
        if hinted:
            g = type(grads)(g)
            g.rows.update(grads.rows)
        p = {k: v.copy() for k, v in params.items()}
        norm = global_norm(g)
        clip_by_norm(g, max_norm, norm)
        SGD(p).step(p, g, 0.5)
        results.append((norm, p, g))
    (n1, p1, g1), (n0, p0, g0) = results
    assert n1 == pytest.approx(n0, rel=1e-12)
    for k in params:
        np.testing.assert_allclose(g1[k], g0[k], rtol=1e-12, atol=0)
        np.testing.assert_allclose(p1[k], p0[k], rtol=1e-12, atol=0)
    assert not np.array_equal(p1["embed.W"], params["embed.W"])
    untouched = np.setdiff1d(np.arange(50), grads.rows["embed.W"])
    np.testing.assert_array_equal(p1["embed.W"][untouched], params["embed.W"][untouched])
    p = {k: v.copy() for k, v in params.items()}
    opt = SGD(p, momentum=0.9)
    opt.velocity["embed.W"][untouched] = 1.0  # old velocity keeps moving untouched rows
    opt.step(p, grads, 0.5)
    assert not np.array_equal(p["embed.W"][untouched], params["embed.W"][untouched])
