"""The compiled time loops (timeloop.py) on two or more threads at once, each over its own rows
of the batch.

A batch's rows are separate sequences: through a window's time loop, forward and backward, no
row reads another's. So with MKL on n threads, a loop can run as n loops over B / n rows each,
one per thread, MKL single-threaded in each, with nothing shared but W_h: no thread waits for
another until the loop ends. One loop over all rows, MKL splitting each step's small product
across the threads instead, makes them meet at every step. Each block adds into its own bias
gradient and step norms, summed once all are done (``run``'s sums).

It pays when each thread can hold W_h in its own cache: every thread streams all of W_h each step,
where MKL's split streams half of it per thread. Measured at two threads on this project's Xeon (2
MiB L2 a core): one LSTM layer of config default (H 256, W_h 1 MiB, B 32, T 64), forward and
backward, 34.5 -> 32.4 ms (benchmarks/row_split.py), and with MKL's idle threads not spinning
(KMP_BLOCKTIME=0) 49.7 -> 32.1; default's whole step 0.94 to 1.03 of the time in four A/B runs
(median 0.96). Config b's 10-row blocks sped one layer up (11.6 -> 10.9 ms) but not the step (0.99
to 1.06 of the time in five runs, 1.013 over 16 rounds), and a (W_h 4 MiB) and c (6.8 MiB) took
1.23 and 1.24 times, so only W_h up to MAX_WEIGHT_BYTES and blocks of MIN_ROWS rows or more split.
The GRU's and RNN's loops follow the same rule: a GRU layer of H 256 (W_h 0.75 MiB), B 32, 24.1
-> 19.9 ms; d-rnn's tanh layer (H 512, W_h 1 MiB) 24.9 -> 23.6 ms, its step 0.90 of the time.
"""

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from rnnlm import mkl

MAX_WEIGHT_BYTES = 3 << 19  # 1.5 MiB: default's 1 MiB W_h splits, a's 4 MiB does not
MIN_ROWS = 16  # rows a block at least: b's 10-row blocks did not speed its step up

_pool = None  # (threads, ThreadPoolExecutor) of the helper threads


def row_blocks(B, W):
    """[(r0, r1)] the batch's row blocks, one per MKL thread, equal in size, for a time loop
    whose per-step product multiplies by W; [(0, B)] when one loop over every row is better
    (one thread, a large W, too few rows)."""
    n = mkl.threads()
    while n > 1 and (B % n or B // n < MIN_ROWS):
        n -= 1
    if n < 2 or W.nbytes > MAX_WEIGHT_BYTES:
        return [(0, B)]
    rows = B // n
    return [(k * rows, (k + 1) * rows) for k in range(n)]


def run(loop, blocks, args, sums=()):
    """loop(*args(r0, r1, *block_sums)) for each block: the first on this thread, the others on
    helper threads, all at once, each with MKL single-threaded; returns when every one has.

    ``sums``: arrays the loop adds into (a bias gradient, step norms). The first block adds into
    them, every other into zeroed arrays of its own, added into them once all are done."""
    if len(blocks) == 1:
        return loop(*args(*blocks[0], *sums))
    own = [[np.zeros_like(s) for s in sums] for _ in blocks[1:]]
    futures = [_helpers(len(blocks) - 1).submit(mkl.single_threaded, loop, *args(*block, *mine))
               for block, mine in zip(blocks[1:], own)]
    try:
        mkl.single_threaded(loop, *args(*blocks[0], *sums))
    finally:  # never leave a helper writing into the buffers after this returns or raises
        for f in futures:
            f.result()
    for mine in own:
        for total, part in zip(sums, mine):
            total += part


def _helpers(n):
    """A pool of n threads, made on first use and kept (threads live as long as the process)."""
    global _pool
    if _pool is None or _pool[0] < n:
        _pool = (n, ThreadPoolExecutor(n, thread_name_prefix="rnnlm-rows"))
    return _pool[1]
