"""Generation: batched rows against single samples, the limits of temperature, top-k and top-p,
beam search against greedy decoding, on a trained model (the stored 0.1.0 run)."""

import numpy as np
import pytest

from rnnlm import model
from rnnlm.infer.beam import beam_search
from rnnlm.infer.load import load_run
from rnnlm.infer.sample import (distributions, draw, generate, generate_rows,
                                token_logprobs)
from tests.test_compat import OLD


@pytest.fixture(scope="module")
def trained():
    run = load_run(OLD, "best")
    return run.params, run.spec, list(run.tokenizer.encode("the "))


def test_draw_is_generator_choice():
    for seed in range(200):
        p = np.random.default_rng(seed).dirichlet(np.full(30, 0.3))
        a = np.random.default_rng(seed).choice(30, p=p)
        assert draw(p[None, :], [np.random.default_rng(seed)])[0] == a


def test_rows_equal_the_same_seeds_one_by_one():
    spec = model.ModelSpec("gru", 13, 4, 8, 2)
    params = model.init_params(spec, np.random.default_rng(0), np.float64)
    rows = np.stack(list(generate_rows(params, spec, [1, 2], 40,
                                       [np.random.default_rng(7 + i) for i in range(5)],
                                       top_k=8, top_p=0.9)), axis=1)  # (5, 40)
    for i in range(5):
        alone = list(generate(params, spec, [1, 2], 40, np.random.default_rng(7 + i),
                              top_k=8, top_p=0.9))
        assert rows[i].tolist() == alone


def test_greedy_limits(trained):
    params, spec, prompt = trained
    greedy = list(generate(params, spec, prompt, 30, np.random.default_rng(0), temperature=0))
    cold = list(generate(params, spec, prompt, 30, np.random.default_rng(1), temperature=1e-4))
    top1 = list(generate(params, spec, prompt, 30, np.random.default_rng(2), top_k=1))
    assert cold == greedy and top1 == greedy


def test_top_p_keeps_exactly_the_smallest_set_reaching_p():
    probs = np.array([0.05, 0.4, 0.1, 0.25, 0.2])
    p = distributions(np.log(probs)[None, :], top_p=0.8)[0]  # 0.4 + 0.25 + 0.2 = 0.85 >= 0.8
    kept = {1, 3, 4}
    rngs = [np.random.default_rng(s) for s in range(20000)]
    drawn = draw(np.repeat(p[None, :], len(rngs), axis=0), rngs)
    assert set(drawn.tolist()) == kept
    freq = np.bincount(drawn, minlength=5) / len(drawn)
    np.testing.assert_allclose(freq[[1, 3, 4]], probs[[1, 3, 4]] / 0.85, atol=0.015)


def test_beam_one_is_greedy_and_five_is_at_least_as_likely(trained):
    params, spec, prompt = trained
    greedy = list(generate(params, spec, prompt, 25, np.random.default_rng(0), temperature=0))
    one = beam_search(params, spec, prompt, 25, beam=1)
    assert one.tokens == greedy
    five = beam_search(params, spec, prompt, 25, beam=5)
    greedy_lp = token_logprobs(params, spec, prompt, greedy).sum()
    assert one.logprob == pytest.approx(greedy_lp, rel=1e-6)
    assert five.logprob >= greedy_lp - 1e-9
    assert five.logprob == pytest.approx(token_logprobs(params, spec, prompt, five.tokens).sum(),
                                         rel=1e-5)


def test_beam_stops_at_eos(trained):
    params, spec, prompt = trained
    greedy = list(generate(params, spec, prompt, 3, np.random.default_rng(0), temperature=0))
    eos = greedy[0]  # the likeliest first token: as eos, a one-token hypothesis ends at once
    hyp = beam_search(params, spec, prompt, 60, beam=3, eos_id=eos)
    assert hyp.finished and hyp.tokens == [eos]  # log p of one token beats 60 tokens' sum
    longer = beam_search(params, spec, prompt, 60, beam=3, eos_id=greedy[2], alpha=1.0)
    assert hyp.logprob == pytest.approx(token_logprobs(params, spec, prompt, hyp.tokens).sum(),
                                        rel=1e-5)
    if longer.finished:  # a finished hypothesis ends at its eos and holds no earlier one
        assert longer.tokens[-1] == greedy[2] and greedy[2] not in longer.tokens[:-1]


@pytest.mark.parametrize("cell", ["rnn_tanh", "rnn_relu", "gru", "lstm"])
@pytest.mark.parametrize("head", [{}, {"tie_weights": True, "embed_size": 6},
                                  {"head": "adaptive", "adaptive_cutoffs": (4, 9)}])
def test_one_step_path_equals_the_window_path(cell, head):
    """Sampling's inner loop (Cell.step, no cache) computes what a one-token window does."""
    from rnnlm.model import next_logits, step_logits, zero_state
    kw = {"embed_size": 4, **head}
    spec = model.ModelSpec(cell, 13, kw.pop("embed_size"), 6, 2, **kw)
    params = model.init_params(spec, np.random.default_rng(1), np.float64)
    rng = np.random.default_rng(2)
    state = tuple(tuple(np.abs(rng.standard_normal(s.shape)) for s in layer)
                  for layer in zero_state(spec, 3, np.float64))
    tokens = np.array([0, 5, 12])
    a, sa = next_logits(params, spec, tokens[:, None], state)
    b, sb = step_logits(params, spec, tokens, state)
    np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12)
    for la, lb in zip(sa, sb):
        for x, y in zip(la, lb):
            np.testing.assert_allclose(y, x, rtol=1e-12, atol=1e-12)
