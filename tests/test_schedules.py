"""Each learning-rate schedule's first steps against values worked out by hand; plateau on a
scripted validation sequence; state round trips; the config errors for nonsense settings."""

import pytest

from rnnlm.config import load_config
from rnnlm.config.build import schedule as build_schedule
from rnnlm.errors import ConfigError
from rnnlm.optim.schedules.exponential import Exponential
from rnnlm.optim.schedules.plateau import Plateau
from rnnlm.optim.schedules.step import Step


def lrs(schedule, steps):
    return [schedule(s) for s in steps]


def test_step_every_step_size():
    # lr 1, gamma 0.5, step_size 3: steps 0-2 -> 1, 3-5 -> 0.5, 6 -> 0.25; floor 0.3 from step 6.
    s = Step(1.0, gamma=0.5, step_size=3)
    assert lrs(s, range(7)) == [1, 1, 1, 0.5, 0.5, 0.5, 0.25]
    assert Step(1.0, min_lr=0.3, gamma=0.5, step_size=3)(6) == 0.3
    # decay_start 4: the countdown starts at step 4, so the first x0.5 is at step 7
    assert lrs(Step(1.0, gamma=0.5, step_size=3, decay_start=4), [0, 4, 6, 7, 10]) == [1, 1, 1, 0.5, 0.25]


def test_step_at_milestones():
    # milestones 2, 5, gamma 0.1: steps 0-1 -> 1, 2-4 -> 0.1, 5.. -> 0.01
    s = Step(1.0, gamma=0.1, milestones=(2, 5))
    assert lrs(s, range(7)) == pytest.approx([1, 1, 0.1, 0.1, 0.1, 0.01, 0.01], rel=1e-15)
    cfg = load_config(None, ["optim.schedule=step", "optim.milestones= 2, 5", "optim.gamma=0.1",
                             "optim.lr=1"])
    assert lrs(build_schedule(cfg), range(7)) == lrs(s, range(7))


def test_exponential():
    # gamma 0.5 per step: 1, 0.5, 0.25, 0.125
    assert lrs(Exponential(1.0, gamma=0.5, step_size=1), range(4)) == [1, 0.5, 0.25, 0.125]
    # gamma 0.25 per 2 steps, smoothly: step 1 is 0.25^(1/2) = 0.5, step 2 is 0.25, step 3 0.125
    assert lrs(Exponential(1.0, gamma=0.25, step_size=2), range(4)) == [1, 0.5, 0.25, 0.125]
    # decay_start 2: flat until step 2, then x0.5 per step; floor min_lr 0.3
    assert lrs(Exponential(1.0, min_lr=0.3, gamma=0.5, step_size=1, decay_start=2), range(5)) \
        == [1, 1, 1, 0.5, 0.3]


def test_warmup_comes_first():
    # 4 warm-up steps rise to lr 1 (0.25, 0.5, 0.75, 1); then step's own count (from step 0)
    s = Step(1.0, warmup_steps=4, gamma=0.5, step_size=3)
    assert lrs(s, range(7)) == [0.25, 0.5, 0.75, 1.0, 0.5, 0.5, 0.25]


def test_plateau_halves_on_a_scripted_sequence():
    """factor 2, patience 1 (Mikolov): a stall is a loss not below the best so far.
    3.0 best; 2.5 best; 2.6 stall -> /2; 2.55 stall (not below 2.5, though below 2.6) -> /4;
    2.4 best; 2.4 stall (equal is no improvement) -> /8; nan stall -> /16."""
    s = Plateau(0.8, factor=2.0, patience=1)
    seen = []
    for v in (3.0, 2.5, 2.6, 2.55, 2.4, 2.4, float("nan")):
        note = s.observe(v)
        seen.append((s(100), note is not None))
    assert seen == [(0.8, False), (0.8, False), (0.4, True), (0.2, True), (0.2, False),
                    (0.1, True), (0.05, True)]


def test_plateau_patience_and_floor():
    # factor 4, patience 2: two stalls in a row per division; the count restarts after one.
    s = Plateau(1.0, min_lr=0.1, factor=4.0, patience=2)
    got, notes = [], []
    for v in (1.0, 1.1, 1.2, 1.3, 0.9, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0):
        notes.append(s.observe(v) is not None)
        got.append(s(0))
    assert got == [1, 1, 0.25, 0.25, 0.25, 0.25, 0.1, 0.1, 0.1, 0.1, 0.1]  # 1/16 is floored at 0.1
    # at the floor a stall changes nothing and says nothing (no "lr divided by 4, now 0.1" again)
    assert notes == [False, False, True, False, False, False, True, False, False, False, False]
    assert s.scale == 1 / 16


def test_plateau_state_round_trip():
    s = Plateau(1.0, factor=2.0, patience=2)
    for v in (2.0, 2.1, 2.2, 2.3):
        s.observe(v)
    again = Plateau(1.0, factor=2.0, patience=2)
    again.load_state_dict({k: a.copy() for k, a in s.state_dict().items()})
    assert (again.scale, again.best, again.stalls) == (0.5, 2.0, 1)
    assert again.observe(2.4) is not None and again(0) == 0.25
    fresh = Plateau(1.0)
    fresh.load_state_dict(Plateau(1.0).state_dict())
    assert fresh.best is None  # "no best yet" survives (a checkpoint holds no inf)


@pytest.mark.parametrize("overrides, words", [
    (["optim.schedule=step", "optim.milestones=2000,1000"], "increasing order"),
    (["optim.schedule=step", "optim.milestones=100,100"], "increasing order"),
    (["optim.schedule=step", "optim.milestones=0"], "positive steps"),
    (["optim.schedule=step", "optim.milestones=1e3"], "comma-separated"),
    (["optim.schedule=cosine", "optim.milestones=1000"], "read only by optim.schedule=step"),
    (["optim.name=sgd", "optim.nesterov=true"], "optim.momentum > 0"),
    (["optim.name=adam", "optim.momentum=0.9", "optim.nesterov=true"], "sgd or ntasgd"),
    (["optim.factor=1"], "'optim.factor' must be > 1"),
    (["optim.gamma=0"], "'optim.gamma' must be > 0"),
    (["train.early_stop=-1"], "'train.early_stop' must be >= 0"),
])
def test_nonsense_settings_are_one_clear_line(overrides, words):
    with pytest.raises(ConfigError) as info:
        load_config(None, overrides)
    msg = str(info.value)
    assert words in msg and "\n" not in msg
