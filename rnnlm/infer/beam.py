"""Beam search: the likeliest continuation of a prompt, keeping the `beam` best partial ones.

Every step scores all beam × V one-token extensions by their total log-probability, keeps the
best `beam` (the surviving rows' states are gathered from their parents), and feeds their last
tokens through one batched forward. A hypothesis that emits the end-of-sequence token is finished
and set aside. At the end the best finished or running hypothesis wins, scored by its total
log-probability, or with length normalisation (alpha > 0) by total / length**alpha, so that longer
continuations are not penalised for having more factors below one.
"""

from dataclasses import dataclass

import numpy as np

from rnnlm.nn.heads import log_softmax
from rnnlm.model import forward

from .sample import prime


@dataclass
class Hypothesis:
    tokens: list  # the continuation's token ids (eos included when it ended there)
    logprob: float  # total log-probability under the model
    finished: bool  # ended with the end-of-sequence token

    def score(self, alpha):
        return self.logprob / max(len(self.tokens), 1) ** alpha if alpha > 0 else self.logprob


def beam_search(params, spec, prompt_ids, length, beam, alpha=0.0, eos_id=None, start_id=0):
    """The best continuation of at most `length` tokens: a Hypothesis.

    beam 1 is greedy decoding. eos_id: a hypothesis ending with it stops growing."""
    last, state = prime(params, spec, prompt_ids, 1, start_id)  # (1, V)
    scores = np.zeros(1)  # (R,) total log-probability of each running row
    seqs = [[]]
    finished = []
    for _ in range(length):
        logp = log_softmax(np.asarray(last, np.float64))  # (R, V)
        V = logp.shape[1]
        total = (scores[:, None] + logp).reshape(-1)  # (R * V,)
        # the best candidates in order; eos ones are set aside. Each running row has one eos
        # extension, so at most beam of them are eos: 2 × beam candidates hold beam running ones.
        k = min(2 * beam, total.size)
        best = np.argpartition(-total, k - 1)[:k]
        best = best[np.argsort(-total[best], kind="stable")]  # likeliest first
        parent, token = best // V, best % V
        keep = []
        for j, (p, t) in enumerate(zip(parent, token)):
            if eos_id is not None and t == eos_id:
                finished.append(Hypothesis(seqs[p] + [int(t)], float(total[best[j]]), True))
            elif len(keep) < beam:
                keep.append(j)
        if not keep:
            break
        keep = np.array(keep)
        parent, token, scores = parent[keep], token[keep], total[best[keep]]
        seqs = [seqs[p] + [int(t)] for p, t in zip(parent, token)]
        state = tuple(tuple(s[parent] for s in layer) for layer in state)  # gather the rows
        logits, state, _ = forward(params, spec, token[:, None], state)  # (1, R, V)
        last = logits[-1]
        if eos_id is not None and len(finished) >= beam:
            break
    running = [Hypothesis(s, float(v), False) for s, v in zip(seqs, scores)]
    return max(finished + running, key=lambda h: h.score(alpha))
