"""The batch split: a cell's time loop run on two halves of the batch in two Python threads.

The per-step work of a recurrent layer is a skinny matrix product and a few elementwise passes
over (B, kH); BLAS at two threads splits each product into pieces too small to pay for the
hand-off (and under load a BLAS thread that has lost its core stalls every step). Rows of the
batch are independent within a window, so instead each half runs the whole loop in its own
Python thread, with BLAS held at one thread meanwhile: numpy's elementwise loops and BLAS release
the GIL. Measured on this 2-core machine under load (forward + backward of one LSTM layer, B 32,
H 256, T 64, wall time): BLAS at 2 threads 1.3 s median (0.46-8 s), halves 0.18 s, BLAS at 1
thread alone 0.26 s (benchmarks/batch_split.py).

Switched on automatically when threadpoolctl is installed (`pip install -e '.[threads]'`) and
BLAS has at least two threads (train.threads, OPENBLAS_NUM_THREADS), for batches of at least
MIN_ROWS rows. ``FORCE`` (1 or 2 halves) overrides the choice, for the tests.
"""

import contextlib
import threading

MIN_ROWS = 16  # below this a half has too little work per step to pay for a thread (B 20: 1.05x)
FORCE = None  # None: decide; 1: never split; 2: always split (the tests)
_blas_threads = None
_control = None  # the ThreadpoolController, False without threadpoolctl


def _controller():
    """threadpoolctl's controller of this process's thread pools (made once), or None."""
    global _control
    if _control is None:
        try:
            from threadpoolctl import ThreadpoolController
            _control = ThreadpoolController()
        except ImportError:
            _control = False
    return _control or None


def _limits():
    """BLAS at one thread for the duration, or nothing when threadpoolctl is not installed
    (0.07 ms through the controller made once, against 0.5 ms for threadpool_limits)."""
    control = _controller()
    return control.limit(limits=1, user_api="blas") if control else contextlib.nullcontext()


def blas_threads():
    """BLAS's thread count in this process (1 when threadpoolctl cannot tell); read once."""
    global _blas_threads
    if _blas_threads is None:
        control = _controller()
        pools = [p for p in control.lib_controllers if p.user_api == "blas"] if control else []
        _blas_threads = max([p.num_threads for p in pools] or [1])
    return _blas_threads


def batch_slices(B):
    """The row ranges the loop runs on: [0, B) or the two halves."""
    n = FORCE if FORCE is not None else (2 if B >= MIN_ROWS and blas_threads() >= 2 else 1)
    n = min(n, B)
    return [slice(k * B // n, (k + 1) * B // n) for k in range(n)]


def run(fn, slices):
    """fn(k, rows) for every (k, rows) of enumerate(slices); with two, in two threads."""
    if len(slices) == 1:
        fn(0, slices[0])
        return
    errors = []

    def work(k, rows):
        try:
            fn(k, rows)
        except BaseException as e:  # re-raised in the caller's thread below
            errors.append(e)

    with _limits():
        threads = [threading.Thread(target=work, args=(k, rows)) for k, rows in enumerate(slices)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    if errors:
        raise errors[0]
