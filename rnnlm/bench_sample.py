"""Sampling speed for `rnnlm bench --sample`: tokens/s of generation from a config's model, one
sample alone and 32 samples as one batch (rnnlm sample --num-samples 32), in a child process with
the thread count it was started with (``python -m rnnlm.bench_sample CONFIG --seconds S``).

One generated token is what `rnnlm sample` does per step: the model's one-token step
(model.step_logits), the temperature/top-k/top-p distribution, and one draw per row.
"""

import argparse
import json
import time

import numpy as np

from rnnlm.infer.sample import Sampler

ROWS = (1, 32)


def sampling_tokens_per_s(spec, params, rows, seconds):
    """Tokens/s of `rows` samples generated together for about `seconds` (after a warm-up)."""
    sampler = Sampler(params, spec, [np.random.default_rng(i) for i in range(rows)])
    sampler.prime([1, 2, 3])
    for _ in range(5):
        sampler.step()
    steps, start = 0, time.perf_counter()
    while steps < 20 or time.perf_counter() - start < seconds:
        sampler.step()
        steps += 1
    return rows * steps / (time.perf_counter() - start)


def child(name, seconds):
    from rnnlm.bench_counts import spec_of
    from rnnlm.model import init_params
    spec = spec_of(name)
    params = init_params(spec, np.random.default_rng(0), np.float32)
    return {f"sample_{r}_tokens_per_s": sampling_tokens_per_s(spec, params, r, seconds / len(ROWS))
            for r in ROWS}


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m rnnlm.bench_sample",
                                description="Sampling speed of one config (a child of rnnlm bench).")
    p.add_argument("config")
    p.add_argument("--seconds", type=float, default=1.0)
    a = p.parse_args(argv)
    print(json.dumps(child(a.config, a.seconds)), flush=True)


if __name__ == "__main__":
    main()
