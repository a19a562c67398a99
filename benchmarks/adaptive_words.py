"""Scratch: full against adaptive softmax on a word-level Shakespeare split, validation perplexity
against training time, config b's model (2×LSTM 200, D 200, B 20, T 35, V 10,000).

    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/adaptive_words.py full 240 > full.jsonl
    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/adaptive_words.py adaptive 240 > ada.jsonl

The word split is made here until the word tokenizer lands: lower-cased words and single
punctuation marks (regex \\w+|[^\\w\\s]) of corpora/shakespeare.txt; the 9,999 most frequent
become ids 1.. in order of frequency, every other word <unk>, and <unk> takes the id its own
count ranks it at, so ids are sorted by frequency as the adaptive head needs. 90 / 5 / 5 split in
order; the first 50,000 validation tokens are scored. Adam lr 2e-3, clip 5, seed 0, the state
carried. The clock is the process's CPU time spent training (the machine is shared: wall time is
printed beside it), validation excluded. One JSON line per evaluation. Not part of the package.
"""

import collections
import json
import math
import re
import sys
import time

import numpy as np

from rnnlm import model
from rnnlm.data.batching import batchify, num_windows, window
from rnnlm.infer.evaluate import evaluate_streams
from rnnlm.optim import clip_by_norm
from rnnlm.optim.adam import Adam

V, D, H, L, B, T = 10_000, 200, 200, 2, 20, 35
CUTOFFS = (2000, 6000)


def word_ids(path="corpora/shakespeare.txt"):
    words = re.findall(r"\w+|[^\w\s]", open(path, encoding="utf-8").read().lower())
    counts = collections.Counter(words)
    keep = [w for w, _ in counts.most_common(V - 1)]
    unk = sum(c for w, c in counts.items() if w not in set(keep))
    ranked = sorted(keep + ["<unk>"], key=lambda w: -(unk if w == "<unk>" else counts[w]))
    index = {w: i for i, w in enumerate(ranked)}
    ids = np.array([index.get(w, index["<unk>"]) for w in words], np.int32)
    return ids, unk / len(words)


def main():
    head, seconds = sys.argv[1], float(sys.argv[2])
    every = float(sys.argv[3]) if len(sys.argv) > 3 else 30.0
    ids, unk_share = word_ids()
    n = len(ids)
    train, valid = ids[:int(0.9 * n)], ids[int(0.9 * n):int(0.95 * n)][:50_000]
    spec = model.ModelSpec("lstm", V, D, H, L, head=head,
                           adaptive_cutoffs=CUTOFFS if head == "adaptive" else ())
    params = model.init_params(spec, np.random.default_rng(0), np.float32)
    opt = Adam(params)
    streams, vstreams = batchify(train, B), batchify(valid, 10)
    print(json.dumps({"head": head, "tokens": n, "train": len(train), "valid": len(valid),
                      "unk_share": unk_share,
                      "params": sum(p.size for p in params.values())}), flush=True)
    cpu = wall = 0.0
    step, w, state, next_eval = 0, 0, model.zero_state(spec, B), every
    while cpu < seconds:
        c0, w0 = time.process_time(), time.perf_counter()
        if w >= num_windows(streams, T):
            w, state = 0, model.zero_state(spec, B)
        x, y = window(streams, w, T)
        w += 1
        loss, grads, state, _ = model.loss_and_grads(params, spec, x, y, state)
        clip_by_norm(grads, 5.0)
        opt.step(params, grads, 2e-3)
        step += 1
        cpu += time.process_time() - c0
        wall += time.perf_counter() - w0
        if cpu >= next_eval or cpu >= seconds:
            vloss, _ = evaluate_streams(params, spec, vstreams, 100)
            print(json.dumps({"head": head, "step": step, "cpu_s": round(cpu, 1),
                              "wall_s": round(wall, 1), "train_loss": loss,
                              "valid_ppl": math.exp(vloss),
                              "tokens_per_cpu_s": step * B * T / cpu}), flush=True)
            next_eval += every


if __name__ == "__main__":
    main()
