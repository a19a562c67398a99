"""Time one training step of two source trees alternately, in one run (A/B of a refactor).

    python benchmarks/ab_steps.py OLD_SRC NEW_SRC --configs a,default,d-rnn --rounds 5 --steps 8

Each round runs, for every config, a fresh child process per tree (OLD then NEW, then NEW then
OLD the next round) that imports `rnnlm` from that tree, warms up, and times --steps steps of
`rnnlm.bench.NumpyStep` at one BLAS thread, in CPU time of the process (at one thread that is the
step's own work, not the time spent waiting for a core other processes hold). Alternating
children share the machine's load, so on a noisy machine the ratio is the figure to trust. Prints per config the median step time of each
tree and new/old.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

CHILD = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
from rnnlm.process import prepare
prepare()  # as the command and the bench's children: before numpy loads
from rnnlm.bench import NumpyStep
step = NumpyStep(sys.argv[2])
for _ in range(2):
    step()
times = []
clock = time.perf_counter if sys.argv[4] == "wall" else time.process_time
for _ in range(int(sys.argv[3])):
    t0 = clock(); step(); times.append(clock() - t0)
print(json.dumps(times))
"""


def child(src, config, steps, threads, wall=False):
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads))
    out = subprocess.run([sys.executable, "-c", CHILD, src, config, str(steps),
                          "wall" if wall else "cpu"], env=env,
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("old")
    p.add_argument("new")
    p.add_argument("--configs", default="a,default,d-rnn")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--wall", action="store_true",
                   help="wall-clock time instead of the process's CPU time (for --threads 2+, "
                        "where CPU time counts every thread)")
    a = p.parse_args()
    for config in a.configs.split(","):
        times = {"old": [], "new": []}
        for r in range(a.rounds):
            order = ("old", "new") if r % 2 == 0 else ("new", "old")
            for which in order:
                times[which] += child(getattr(a, which), config, a.steps, a.threads, a.wall)
        old, new = statistics.median(times["old"]), statistics.median(times["new"])
        print(f"{config:<8} old {1e3 * old:8.1f} ms/step   new {1e3 * new:8.1f} ms/step   "
              f"new/old time {new / old:.3f}", flush=True)


if __name__ == "__main__":
    main()
