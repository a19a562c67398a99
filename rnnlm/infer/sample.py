"""Text generation through the same forward pass as training.

The prompt primes the state (one window, all its tokens at once); then each new token is drawn
from the softmax of the last logits and fed back one step at a time. Sampling can never drift from
training because it calls the model's forward pass, the very one training differentiates; the
head's distribution is computed for the last position only (model.next_logits).

Several samples are generated together as one batch (one forward per step for all N rows). Row i
draws from its own generator, seeded ``seed + i``, with the same arithmetic as a single sample, so
row i of ``--num-samples N --seed S`` is the text a single sample with ``--seed S+i`` gives (in
float64 exactly; in float32 a batch's matrix products may round differently from one row's).
"""

import numpy as np

from rnnlm.model import forward, layer_params, next_logits, step_logits, zero_state
from rnnlm.nn.heads import log_softmax


def distributions(logits, temperature=1.0, top_k=0, top_p=1.0):
    """Probabilities (N, V) from logits (N, V), row by row: temperature, then top-k, then
    nucleus (top-p: the smallest set of likeliest tokens whose mass reaches p; the likeliest token
    always stays, so top_p 0 is greedy). temperature 0 means greedy: all mass on the arg-max."""
    logits = np.asarray(logits, np.float64)
    N, V = logits.shape
    rows = np.arange(N)
    if temperature <= 0:
        p = np.zeros_like(logits)
        p[rows, np.argmax(logits, axis=-1)] = 1.0
        return p
    p = np.exp(log_softmax(logits / temperature))  # (N, V)
    if 0 < top_k < V:
        cutoff = np.partition(p, -top_k, axis=-1)[:, -top_k:-top_k + 1 or None]  # (N, 1)
        p = np.where(p >= cutoff, p, 0.0)
    if top_p < 1.0:
        order = np.argsort(-p, axis=-1, kind="stable")  # (N, V) likeliest first
        sorted_p = np.take_along_axis(p, order, axis=-1)
        keep_sorted = np.cumsum(sorted_p, axis=-1) - sorted_p < top_p * p.sum(axis=-1, keepdims=True)
        keep_sorted[:, 0] = True
        keep = np.zeros_like(p, dtype=bool)
        np.put_along_axis(keep, order, keep_sorted, axis=-1)
        p = np.where(keep, p, 0.0)
    return p / p.sum(axis=-1, keepdims=True)


def next_token_distribution(logits, temperature=1.0, top_k=0, top_p=1.0):
    """Probabilities (V,) from one row of logits (see distributions)."""
    return distributions(np.asarray(logits)[None, :], temperature, top_k, top_p)[0]


def draw(p, rngs):
    """One token per row of p (N, V), row i drawn with rngs[i]: inverse CDF of one uniform, the
    same arithmetic as Generator.choice(V, p=row) (tested), so a row is reproducible alone."""
    cdf = np.cumsum(p, axis=-1)
    cdf /= cdf[:, -1:]
    u = np.array([rng.random() for rng in rngs])  # (N,)
    return np.array([np.searchsorted(c, x, side="right") for c, x in zip(cdf, u)])


def prime(params, spec, prompt_ids, rows=1, start_id=0, state=None):
    """Run the prompt through `state` (None: a zero state): (logits of its last position
    (rows, V), the state after it). An empty prompt feeds `start_id` (not part of the output)."""
    prompt = np.asarray(prompt_ids, np.int64).reshape(-1)
    if prompt.size == 0:
        prompt = np.array([start_id])
    if state is None:
        state = zero_state(spec, rows, params["embed.W"].dtype)
    x = np.repeat(prompt[None, :], rows, axis=0)  # (rows, P)
    return next_logits(params, spec, x, state)  # (rows, V) after the prompt, the state


class Sampler:
    """N rows of generation, row i drawing with rngs[i]; the state is kept between calls, so a
    prompt can continue where the last continuation ended (rnnlm sample --interactive)."""

    def __init__(self, params, spec, rngs, temperature=1.0, top_k=0, top_p=1.0):
        self.params, self.spec, self.rngs = params, spec, rngs
        self.settings = (temperature, top_k, top_p)
        self.state, self.last = None, None
        self.layers = [layer_params(params, l) for l in range(spec.layers)]  # views, made once

    def prime(self, prompt_ids, start_id=0, keep_state=False):
        self.last, self.state = prime(self.params, self.spec, prompt_ids, len(self.rngs),
                                      start_id, self.state if keep_state else None)

    def step(self):
        """Draw one token per row (N,), feed it through the model, return it."""
        tokens = draw(distributions(self.last, *self.settings), self.rngs)
        self.last, self.state = step_logits(self.params, self.spec, tokens, self.state, self.layers)
        return tokens


def generate_rows(params, spec, prompt_ids, length, rngs, temperature=1.0, top_k=0, top_p=1.0,
                  start_id=0):
    """Yield `length` steps of new token ids, an array (N,) a step for N = len(rngs) rows.

    Every row starts from the same prompt; one forward per step serves all rows."""
    sampler = Sampler(params, spec, rngs, temperature, top_k, top_p)
    sampler.prime(prompt_ids, start_id)
    for _ in range(length):
        yield sampler.step()


def generate(params, spec, prompt_ids, length, rng, temperature=1.0, top_k=0, top_p=1.0,
             start_id=0):
    """Yield `length` new token ids of one sample, one at a time (so callers can stream them).

    prompt_ids (P,): primes the state; empty means start from `start_id` (not yielded)."""
    for tokens in generate_rows(params, spec, prompt_ids, length, [rng], temperature, top_k,
                                top_p, start_id):
        yield int(tokens[0])


def token_logprobs(params, spec, prompt_ids, tokens, start_id=0):
    """log p(token_i | prompt, tokens before it) under the model itself (temperature 1, nothing
    cut), for each of `tokens`: an array (n,). One forward over prompt + tokens."""
    prompt = np.asarray(prompt_ids, np.int64).reshape(-1)
    if prompt.size == 0:
        prompt = np.array([start_id])
    tokens = np.asarray(tokens, np.int64).reshape(-1)
    if tokens.size == 0:
        return np.zeros(0)
    seq = np.concatenate([prompt, tokens])[None, :-1]  # (1, P + n - 1): inputs
    logits, _, _ = forward(params, spec, seq, zero_state(spec, 1, params["embed.W"].dtype))
    logp = log_softmax(np.asarray(logits[prompt.size - 1:, 0], np.float64))  # (n, V)
    return logp[np.arange(tokens.size), tokens]
