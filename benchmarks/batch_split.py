"""Scratch: the batch split (rnnlm/nn/cells/split.py) against BLAS threads, whole training steps.

    .venv/bin/python benchmarks/batch_split.py --configs a,default --rounds 4 --steps 4

For each config, child processes in turn (order swapped every round), each timing --steps steps
of rnnlm.bench.NumpyStep in wall time after two warm-up steps:
    blas1   OPENBLAS_NUM_THREADS=1, no split
    blas2   OPENBLAS_NUM_THREADS=2, no split (split.FORCE = 1)
    halves  OPENBLAS_NUM_THREADS=2, the loops on two batch halves in two threads, BLAS at one
            thread during the loops (needs threadpoolctl to hold BLAS at one thread)
Prints the median ms/step of each with its spread (max/min of the round medians) and the
ratios. Wall time on a shared machine: trust the ratios of one run, not the figures.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

CHILD = """
import json, sys, time
from rnnlm.bench import NumpyStep
from rnnlm.nn.cells import split
split.FORCE = int(sys.argv[2])
step = NumpyStep(sys.argv[1])
step(); step()
times = []
for _ in range(int(sys.argv[3])):
    t0 = time.perf_counter(); step(); times.append(time.perf_counter() - t0)
print(json.dumps(times))
"""
VARIANTS = {"blas1": (1, 1), "blas2": (2, 1), "halves": (2, 2)}  # name: (BLAS threads, FORCE)


def child(config, variant, steps):
    threads, force = VARIANTS[variant]
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads))
    out = subprocess.run([sys.executable, "-c", CHILD, config, str(force), str(steps)], env=env,
                         capture_output=True, text=True, check=True).stdout
    return statistics.median(json.loads(out))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--configs", default="a,default,d-gru,d-rnn")
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--steps", type=int, default=4)
    a = p.parse_args()
    for config in a.configs.split(","):
        med = {v: [] for v in VARIANTS}
        for r in range(a.rounds):
            for v in (list(VARIANTS) if r % 2 == 0 else list(VARIANTS)[::-1]):
                med[v].append(child(config, v, a.steps))
        m = {v: statistics.median(x) for v, x in med.items()}
        spread = {v: max(x) / min(x) for v, x in med.items()}
        print(f"{config:<8} " + "  ".join(f"{v} {1e3 * m[v]:7.1f} ms (x{spread[v]:.2f})"
                                          for v in VARIANTS)
              + f"   blas2/halves {m['blas2'] / m['halves']:.2f}  blas1/halves "
              f"{m['blas1'] / m['halves']:.2f}", flush=True)


if __name__ == "__main__":
    main()
