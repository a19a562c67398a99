"""Text generation through the same forward pass as training.

The prompt primes the state (one window, all its tokens at once); then each new token is drawn
from the softmax of the last logits and fed back one step at a time. Sampling can never drift from
training because it calls the model's forward pass, the very one training differentiates; the
head's distribution is computed for the last position only (model.next_logits).
"""

import numpy as np

from rnnlm.model import next_logits, zero_state
from rnnlm.nn.heads import log_softmax


def next_token_distribution(logits, temperature=1.0, top_k=0, top_p=1.0):
    """Probabilities (V,) from one row of logits: temperature, then top-k, then nucleus (top-p).

    temperature 0 means greedy: all mass on the arg-max.
    """
    logits = np.asarray(logits, np.float64)
    if temperature <= 0:
        p = np.zeros_like(logits)
        p[np.argmax(logits)] = 1.0
        return p
    p = np.exp(log_softmax(logits / temperature))
    if 0 < top_k < p.size:
        cutoff = np.partition(p, -top_k)[-top_k]
        p = np.where(p >= cutoff, p, 0.0)
    if top_p < 1.0:
        order = np.argsort(-p, kind="stable")
        keep_sorted = np.cumsum(p[order]) - p[order] < top_p * p.sum()  # smallest set reaching top_p
        keep = np.zeros_like(p, dtype=bool)
        keep[order[keep_sorted]] = True
        p = np.where(keep, p, 0.0)
    return p / p.sum()


def generate(params, spec, prompt_ids, length, rng, temperature=1.0, top_k=0, top_p=1.0,
             start_id=0):
    """Yield `length` new token ids, one at a time (so callers can stream them).

    prompt_ids (P,): primes the state; empty means start from `start_id` (not yielded).
    """
    dtype = params["embed.W"].dtype
    state = zero_state(spec, 1, dtype)
    prompt = np.asarray(prompt_ids, np.int64).reshape(-1)
    if prompt.size == 0:
        prompt = np.array([start_id])
    last, state = next_logits(params, spec, prompt[None, :], state)  # (1, V) after the prompt
    last = last[0]
    for _ in range(length):
        p = next_token_distribution(last, temperature, top_k, top_p)
        token = int(rng.choice(p.size, p=p))
        yield token
        last, state = next_logits(params, spec, np.array([[token]]), state)
        last = last[0]
