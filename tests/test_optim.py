import math

import numpy as np
import pytest

from rnnlm.optim import clip_by_norm, clip_by_value, global_norm, learning_rate
from rnnlm.optim.adam import Adam
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
