"""The array module: the one place that chooses between numpy and another numpy-like library.

The math (rnnlm.nn, rnnlm.model, rnnlm.optim) never imports numpy for arrays it computes on: it
asks ``array_module(x)`` for the module of the arrays it was given, so the same code runs on numpy
arrays and, with ``train.backend: cupy``, on CuPy's arrays on an NVIDIA GPU. Data, files
and reports stay on the host: ``to_host`` brings an array back, ``to_device`` sends one over.

Rules that keep a device busy: no Python float() of an array inside a time loop (the per-step
gradient norms stay arrays until the window is done), no host copies of activations.
"""

import os
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy

BACKENDS = ("numpy", "cupy")


def get(name="numpy"):
    """The array module named `name` (train.backend): numpy, or cupy on an NVIDIA GPU."""
    if name == "numpy":
        return numpy
    if name == "cupy":
        return _cupy()
    raise ValueError(f"unknown backend {name!r}: choose one of {', '.join(BACKENDS)}")


def _cupy():
    from rnnlm.errors import ConfigError
    try:
        import cupy
        import cupyx  # noqa: F401  (scatter_add lives there)
    except ImportError:
        raise ConfigError("train.backend=cupy needs CuPy, which is not installed: "
                          "pip install -e '.[gpu]' in the rnnlm checkout (CUDA 12), or set "
                          "train.backend=numpy") from None
    try:
        if cupy.cuda.runtime.getDeviceCount() < 1:
            raise RuntimeError("no device")
    except Exception as e:  # CUDARuntimeError without a driver, RuntimeError without a device
        raise ConfigError(f"train.backend=cupy: CuPy finds no usable NVIDIA GPU ({e}); "
                          "set train.backend=numpy") from None
    return cupy


def array_module(*arrays):
    """numpy, or the module of the first array that is not a numpy array (cupy.get_array_module's job)."""
    for a in arrays:
        module = type(a).__module__.partition(".")[0]
        if module not in ("numpy", "builtins") and module in sys.modules:
            return sys.modules[module]
    return numpy


def matmul(A, B, out=None):
    """A @ B of two 2-d arrays (out: the (M, N) result buffer, or None). With numpy arrays and
    MKL installed, MKL computes it (rnnlm/mkl.py): then every matrix product of a step runs in
    one thread pool, not MKL's for the time loop and numpy's OpenBLAS for the rest."""
    xp = array_module(A, B)
    if xp is numpy:
        from rnnlm import mkl
        return mkl.matmul(numpy, A, B, out)
    return xp.matmul(A, B, out=out)


def axpy(a, x, y):
    """y += a·x in place (an optimizer's update), without a temporary as large as y."""
    xp = array_module(x, y)
    if xp is numpy:
        from rnnlm import mkl
        return mkl.axpy(numpy, a, x, y)
    y += y.dtype.type(a) * x
    return y


# Element-wise work on big host arrays (the softmax over (N, V) logits) is split by rows over this
# many threads: numpy releases the GIL inside a ufunc's loop, so the blocks run at once.
# Measured on the 2-core machine: softmax cross-entropy of (700, 10,000) float32 10.1 -> 5.4 ms.
_ROWS_MIN_ELEMENTS = 1 << 20  # smaller arrays: a thread's start costs more than it saves
_pool = (0, None)  # (workers, ThreadPoolExecutor), made on first use


def host_threads():
    """Threads the host math may use: the BLAS's count as set for this process (train.threads and
    the bench set MKL/OMP/OPENBLAS_NUM_THREADS), else every CPU this process may run on."""
    for var in ("MKL_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        value = os.environ.get(var, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def by_rows(fn, A):
    """[fn(rows) for row slices covering A (N, ...)]: for a numpy A of at least a million
    elements, the slices are run in host_threads() threads at once (fn must only touch its own
    rows); otherwise one call, fn(slice(0, N)). The results come back in row order."""
    global _pool
    N = A.shape[0]
    parts = min(host_threads(), N, A.size // _ROWS_MIN_ELEMENTS)
    if parts < 2 or array_module(A) is not numpy:
        return [fn(slice(0, N))]
    if _pool[0] < parts - 1:
        _pool = (parts - 1, ThreadPoolExecutor(parts - 1, thread_name_prefix="rnnlm-rows"))
    cuts = [N * k // parts for k in range(parts + 1)]
    slices = [slice(cuts[k], cuts[k + 1]) for k in range(parts)]
    futures = [_pool[1].submit(fn, s) for s in slices[1:]]
    return [fn(slices[0])] + [f.result() for f in futures]  # this thread does the first block


def to_host(a):
    """A numpy array (a no-op for numpy arrays)."""
    return a.get() if hasattr(a, "get") and not isinstance(a, numpy.ndarray) else numpy.asarray(a)


def to_device(a, xp):
    """`a` as an array of module xp."""
    return a if xp is numpy else xp.asarray(a)


def scatter_add(xp, target, indices, values):
    """target[indices] += values, with repeated indices accumulating (np.add.at's meaning).

    Rows at once for target (V, D), indices (N,), values (N, D) on numpy: the rows sorted by
    index, each index's rows summed (add.reduceat) and added once, a block of columns at a time
    (its temporaries at most 256 KiB each: not a copy of values beside the step's peak). np.add.at
    goes element by element: the embedding's gradient on config b (700 rows of 200) took 3.0 ms
    of a 41 ms step (profiled); on that shape alone 1.1 -> 0.5 ms this way. With numba
    (float32), fused/updates.py's loop adds each row in np.add.at's order: config c's (700 rows
    of 650) 4.5 -> 0.2 ms.
    """
    if xp is numpy:
        if target.ndim != 2 or values.ndim != 2 or indices.ndim != 1 or len(indices) < 2:
            numpy.add.at(target, indices, values)
            return
        from rnnlm import fused
        kernels = fused.kernels(target)
        if (kernels and values.dtype == target.dtype and indices.dtype.kind in "iu"
                and 0 <= indices.min() and indices.max() < len(target)):
            kernels["scatter_rows"](target, indices, values)  # a row at a time, no temporaries
            return
        order = numpy.argsort(indices, kind="stable")
        ids = indices[order]
        starts = numpy.flatnonzero(numpy.concatenate(([True], ids[1:] != ids[:-1])))
        rows = ids[starts]  # each index once
        D = values.shape[1]
        width = max(1, min(D, (256 << 10) // (len(indices) * values.itemsize)))
        for c in range(0, D, width):
            block = numpy.add.reduceat(values[order, c:c + width], starts, axis=0)  # (U, width)
            target[rows, c:c + width] += block
    else:  # cupy keeps this in cupyx
        sys.modules["cupyx"].scatter_add(target, indices, values)
