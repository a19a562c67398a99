import numpy as np
import pytest

from rnnlm import model
from rnnlm.infer.sample import generate, next_token_distribution


def test_temperature_top_k_top_p():
    logits = np.log(np.array([0.5, 0.3, 0.15, 0.05]))
    np.testing.assert_allclose(next_token_distribution(logits), [0.5, 0.3, 0.15, 0.05])
    np.testing.assert_array_equal(next_token_distribution(logits, 0.0), [1, 0, 0, 0])  # greedy
    np.testing.assert_allclose(next_token_distribution(logits, top_k=2), [0.5 / 0.8, 0.3 / 0.8, 0, 0])
    # top-p 0.7: the smallest set whose mass reaches 0.7 is {0.5, 0.3}
    np.testing.assert_allclose(next_token_distribution(logits, top_p=0.7), [0.625, 0.375, 0, 0])
    np.testing.assert_allclose(next_token_distribution(logits, top_p=0.5), [1, 0, 0, 0])
    hot = next_token_distribution(logits, temperature=2.0)
    assert hot[3] > 0.05 and hot[0] < 0.5  # flatter
    assert next_token_distribution(logits * 1e4, 1.0).sum() == pytest.approx(1.0)  # stable


def test_generate_is_deterministic_per_seed_and_matches_the_model():
    spec = model.ModelSpec("lstm", 9, 4, 8, 2)
    params = model.init_params(spec, np.random.default_rng(0), np.float64)
    a = list(generate(params, spec, [1, 2, 3], 15, np.random.default_rng(4)))
    b = list(generate(params, spec, [1, 2, 3], 15, np.random.default_rng(4)))
    assert a == b and len(a) == 15 and all(0 <= t < 9 for t in a)
    # greedy generation equals stepping the model by hand, one token at a time
    greedy = list(generate(params, spec, [1, 2, 3], 5, np.random.default_rng(0), temperature=0))
    seq = [1, 2, 3]
    for _ in range(5):
        logits, _, _ = model.forward(params, spec, np.array([seq]), model.zero_state(spec, 1, np.float64))
        seq.append(int(np.argmax(logits[-1, 0])))
    assert greedy == seq[3:]
