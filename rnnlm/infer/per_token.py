"""`rnnlm eval --per-token FILE`: every scored token's text and log-probability, one JSON object a
line, in the order of the text: the data behind a "surprise" view of where the model is lost.

    {"position": 17, "id": 4, "token": "e", "logprob": -0.213, "bits": 0.307}

position counts tokens from the start of the text (the first token has no prediction and no
line); logprob is the natural log of p(token | everything before it), bits = -logprob / ln 2.
"""

import json
import math
from pathlib import Path

from rnnlm.errors import RnnlmError

from .evaluate import token_losses


def write_per_token(run, ids, bptt, path):
    """Score ids as one stream, writing a line per token to path; returns (mean loss, tokens)."""
    path = Path(path)
    if path.exists():
        raise RnnlmError(f"--per-token '{path}' already exists: choose a new file name (nothing "
                         "is overwritten)")
    tok, total, count = run.tokenizer, 0.0, 0
    try:
        f = open(path, "x", encoding="utf-8")
    except OSError as e:
        raise RnnlmError(f"--per-token '{path}' cannot be written: {e.strerror}; choose another "
                         "path") from None
    with f:
        for start, targets, nll in token_losses(run.params, run.spec, ids, bptt):
            for k, (t, n) in enumerate(zip(targets.tolist(), nll.tolist())):
                f.write(json.dumps({"position": start + k, "id": t, "token": tok.decode([t]),
                                    "logprob": -n, "bits": n / math.log(2)},
                                   ensure_ascii=False) + "\n")
            total += float(nll.sum())
            count += len(nll)
    return total / max(count, 1), count
