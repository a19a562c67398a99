"""Scratch: full against adaptive softmax on the word-level Shakespeare split, validation
perplexity against training time, config b's model (2×LSTM 200, D 200, B 20, T 35, V 10,000).

    MKL_NUM_THREADS=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \
        .venv/bin/python benchmarks/adaptive_words.py full 420 > full.jsonl
    ... benchmarks/adaptive_words.py adaptive 420 30 500,2000 > ada.jsonl

(arguments: the head, CPU seconds of training, CPU seconds between evaluations, the cutoffs.)
The corpus is `make corpora`'s corpora/shakespeare-words (train.txt, valid.txt), through the word
tokenizer as configs/word-lstm.yaml sets it (whitespace split, 10,000 ids: <eos>, <unk>, then the
words by frequency, the order the adaptive head needs); the first 50,000 validation tokens are
scored. Adam lr 2e-3, clip 5, seed 0, the state carried. The clock is the process's CPU time
spent training (the machine is shared: wall time is printed beside it), validation excluded. One
JSON line per evaluation. Not part of the package.
"""

from rnnlm.process import prepare

prepare()  # as the command does: glibc's memory, idle BLAS threads

import json
import math
import sys
import time

import numpy as np

from rnnlm import model
from rnnlm.data.batching import batchify, num_windows, window
from rnnlm.data.tokenizers.word import WordTokenizer
from rnnlm.infer.evaluate import evaluate_streams
from rnnlm.optim import clip_by_norm
from rnnlm.optim.adam import Adam

V, D, H, L, B, T = 10_000, 200, 200, 2, 20, 35
CUTOFFS = (500, 2000)


def word_ids(folder="corpora/shakespeare-words"):
    """(train ids, validation ids, the share of <unk> in train) of the word split."""
    text = {part: open(f"{folder}/{part}.txt", encoding="utf-8").read() for part in ("train", "valid")}
    tok = WordTokenizer(word_split="whitespace", max_size=V).fit_blocks([text["train"]])
    train = tok.encode(text["train"])
    return train, tok.encode(text["valid"])[:50_000], float(np.mean(train == tok.unk_id))


def main():
    head, seconds = sys.argv[1], float(sys.argv[2])
    every = float(sys.argv[3]) if len(sys.argv) > 3 else 30.0
    cutoffs = tuple(int(c) for c in sys.argv[4].split(",")) if len(sys.argv) > 4 else CUTOFFS
    train, valid, unk_share = word_ids()
    n = len(train) + len(valid)
    spec = model.ModelSpec("lstm", V, D, H, L, head=head,
                           adaptive_cutoffs=cutoffs if head == "adaptive" else ())
    params = model.init_params(spec, np.random.default_rng(0), np.float32)
    opt = Adam(params)
    streams, vstreams = batchify(train, B), batchify(valid, 10)
    print(json.dumps({"head": head, "cutoffs": spec.adaptive_cutoffs, "tokens": n, "train": len(train), "valid": len(valid),
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
