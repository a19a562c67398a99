"""Loss of a model on held-out text, with the hidden state carried across windows."""

import math

import numpy as np

from rnnlm.data.batching import batchify, iter_windows
from rnnlm.model import evaluate_loss, forward, zero_state
from rnnlm.nn.heads import token_nll


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


def token_losses(params, spec, ids, bptt):
    """The text as one stream from a zero state, window by window: yields (position of the first
    target, targets (t,), -log p of each target (t,) in nats). Nothing but one window is held."""
    streams = batchify(ids, 1)  # (1, N)
    state = zero_state(spec, 1, params["embed.W"].dtype)
    for i, x, y in iter_windows(streams, bptt):
        logits, state, _ = forward(params, spec, x, state)  # (t, 1, V)
        nll = np.asarray(token_nll(logits[:, 0], y[0]), np.float64)
        yield i * bptt + 1, y[0], nll


def validation_streams(n_tokens, batch_size):
    """How many parallel streams a text of n_tokens is evaluated as, the way training validates:
    train.batch_size of them, fewer for a short text (each stream needs at least 2 tokens)."""
    return max(1, min(batch_size, (n_tokens - 1) // 2))


def protocol_words(streams, bptt):
    """How a loss was measured, in words shown beside it."""
    return (f"{streams} stream{'s' if streams != 1 else ''} from a zero state, "
            f"{bptt}-token windows")


def evaluate_ids(params, spec, ids, bptt=256, streams=1):
    """Loss of a whole text as one stream (streams=1): the exact sequential loss from a zero state."""
    return evaluate_streams(params, spec, batchify(np.asarray(ids), streams), bptt)


def summary(loss, tokens=None, text=None):
    """Loss in nats per token, bits per token and perplexity of `tokens` scored tokens; given the
    size of the scored text, text = {"tokens", "chars", "bytes"}, also bits per character and per
    UTF-8 byte, which compare across tokenizers: bits/char = bits/token x text tokens / characters."""
    bits = loss / math.log(2)
    out = {"loss": loss, "bits_per_token": bits, "perplexity": math.exp(min(loss, 700.0)), "tokens": tokens}
    if text and text.get("tokens"):
        out["chars"], out["bytes"] = text.get("chars"), text.get("bytes")
        out["bits_per_char"] = bits * text["tokens"] / out["chars"] if out["chars"] else None
        out["bits_per_byte"] = bits * text["tokens"] / out["bytes"] if out["bytes"] else None
    return out
