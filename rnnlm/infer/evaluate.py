"""Loss of a model on held-out text, with the hidden state carried across windows."""

import math

import numpy as np

from rnnlm.data.batching import batchify, iter_windows
from rnnlm.model import evaluate_loss, zero_state


def evaluate_streams(params, spec, streams, bptt):
    """Mean loss in nats per token over B parallel streams (B, N), from a zero state.

    Each window's mean is weighted by its token count, so a short last window counts fairly.
    """
    state = zero_state(spec, streams.shape[0], params["embed.W"].dtype)
    total, count = 0.0, 0
    for _, x, y in iter_windows(streams, bptt):
        loss, state = evaluate_loss(params, spec, x, y, state)
        total += loss * x.size
        count += x.size
    return total / max(count, 1), count


def evaluate_ids(params, spec, ids, bptt=256, streams=1):
    """Loss of a whole text as one stream (streams=1): the exact sequential loss from a zero state."""
    return evaluate_streams(params, spec, batchify(np.asarray(ids), streams), bptt)


def summary(loss, tokens=None):
    """Loss in nats, bits per token and perplexity."""
    return {"loss": loss, "bits_per_token": loss / math.log(2),
            "perplexity": math.exp(min(loss, 700.0)), "tokens": tokens}
