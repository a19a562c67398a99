"""Where one training step's time goes: cProfile of rnnlm.bench's NumpyStep, by function.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/profile_step.py default a

Matrix products written with `@` are not calls cProfile sees: their time is the own time
("tottime") of the function that runs them (the cells' forward/backward loops, weight_grads,
input_projection, linear_forward/backward). Scratch: not part of the package.
"""

import cProfile
import pstats
import sys
import time

from rnnlm.bench import NumpyStep
from rnnlm.process import keep_freed_memory
keep_freed_memory()  # as the command and the bench children do

STEPS = 10

for name in sys.argv[1:] or ["default", "a"]:
    step = NumpyStep(name)
    step(), step()
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    for _ in range(STEPS):
        step()
    prof.disable()
    wall = (time.perf_counter() - t0) / STEPS
    stats = pstats.Stats(prof)
    total = sum(v[2] for v in stats.stats.values())
    print(f"== {name}: {1e3 * wall:.1f} ms/step under the profiler; own time by function:")
    rows = sorted(stats.stats.items(), key=lambda kv: -kv[1][2])[:12]
    for (file, line, fn), (cc, nc, tt, ct, _) in rows:
        where = file.split("rnnlm/")[-1] if "rnnlm/" in file else file.split("/")[-1]
        print(f"  {100 * tt / total:5.1f}%  {1e3 * tt / STEPS:7.2f} ms  {nc // STEPS:6d} calls  "
              f"{where}:{fn}")
