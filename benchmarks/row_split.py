"""One LSTM (GRU, RNN) layer's forward and backward (float32) with its compiled time loop run as
one loop or split by batch rows over MKL's threads (rnnlm/fused/rowsplit.py), alternately.

    MKL_NUM_THREADS=2 .venv/bin/python benchmarks/row_split.py 32 256   # B H (T 64)
    MKL_NUM_THREADS=2 .venv/bin/python benchmarks/row_split.py 32 256 gru   # or rnn_tanh

"one loop" sets the size limit to 0 bytes, "split" lifts both limits (W_h's size, rows a block),
so both run whatever the shape (the split needs MKL at two threads or more, and numba). Prints
the median of 10 runs each.
"""

import sys
import time

from rnnlm.process import prepare

prepare()  # as the command does: before numpy loads

import numpy as np  # noqa: E402

from rnnlm.fused import rowsplit  # noqa: E402
from rnnlm.nn.cells import get_cell  # noqa: E402

T, B, H = 64, int(sys.argv[1]), int(sys.argv[2])
name = sys.argv[3] if len(sys.argv) > 3 else "lstm"
cell = get_cell(name)
k, states = {"lstm": (4, 2), "gru": (3, 1)}.get(name, (1, 1))
rng = np.random.default_rng(0)
p = {"W_x": (rng.standard_normal((H, k * H)) * 0.05).astype(np.float32),
     "W_h": (rng.standard_normal((H, k * H)) * 0.05).astype(np.float32),
     "b": np.zeros(k * H, np.float32), "b_hn": np.zeros(H, np.float32)}
X = rng.standard_normal((T, B, H)).astype(np.float32)
state = (np.zeros((B, H), np.float32),) * states
dH = rng.standard_normal((T, B, H)).astype(np.float32)


def forward():
    return cell.forward(p, X, state)


def forward_backward():
    _, _, cache = cell.forward(p, X, state)
    cell.backward(p, dH.copy(), state, cache, {}, "", True)


for mode in ("one loop", "split") * 3:
    rowsplit.MAX_WEIGHT_BYTES = 0 if mode == "one loop" else 1 << 40
    rowsplit.MIN_ROWS = 1
    for what, run in (("forward", forward), ("forward+backward", forward_backward)):
        run()
        times = []
        for _ in range(10):
            t0 = time.perf_counter()
            run()
            times.append(time.perf_counter() - t0)
        print(f"{name} B {B} H {H} {mode:8s} {what:16s} {1e3 * np.median(times):7.2f} ms")
