"""The LSTM's and GRU's per-step gate arithmetic, the softmax's gradient, the embedding's row
scatter and Adam's update, each in one compiled pass (optional: numba).

numpy makes one pass over a (B, ·) block per operation: the LSTM backward step is 14 of them, its
forward step 8 (bias, tanh, 4 for the gates and c, tanh(c), h), the GRU backward step 16. With
numba installed (``pip install -e '.[fast]'`` in the rnnlm checkout) these loops are compiled once
(cached on disk) and each step is one pass. Config a (2 x LSTM 512, B 32, T 64), one thread,
profiled: the LSTM's own time in a training step 46 -> 28 ms (backward step 186 -> 77 µs); d-gru
4-5 % more tokens/s.

The forward steps compute tanh themselves (``tanh32``): numba's math.tanh is a scalar library
call, 15x slower than numpy's vectorised one, while a rational function is plain arithmetic LLVM
vectorises. With it the whole forward step is one pass: LSTM (32, 4 x 512) 72 -> 35 µs.

float32 only (the training dtype); float64 (gradcheck) keeps the numpy path, the reference the
tests hold this one equal to. Off with the environment variable ``RNNLM_NUMBA=0``.

The kernels live by job: gates.py (the cells' steps), softmax.py (the head's loss and gradient),
updates.py (Adam, the embedding's row scatter) and scalar.py (tanh and exp as plain arithmetic,
inlined into the others); this module compiles them once and hands them out. timeloop.py (each cell's
whole time loop, calling MKL's packed product from compiled code) needs MKL too: ``loops``.
"""

import os

_kernels = None  # {name: compiled function} (see _compile), or False when unavailable / off
_loops = None  # {name: compiled function} of timeloop.py, or False when unavailable / off


def _compile():
    import numba

    from . import gates, scalar, softmax, updates

    # No "fast" flags that assume finite values: a NaN must reach the trainer's finiteness check.
    jit = numba.njit(nogil=True, cache=True, error_model="numpy", boundscheck=False,
                     fastmath={"contract", "reassoc"})
    # No fast-math flags here: each operation rounds as numpy's does, in numpy's order, so the
    # update is bit for bit the numpy path's (a run resumes exactly with numba on or off).
    exact = numba.njit(nogil=True, cache=True, error_model="numpy", boundscheck=False)
    inline = numba.njit(inline="always", error_model="numpy", fastmath={"contract"})
    gates.tanh32, softmax.exp_parts = inline(scalar.tanh32()), inline(scalar.exp_parts())
    return {**gates.build(jit), **softmax.build(jit), **updates.build(exact)}


def available():
    """numba installed and not switched off, without compiling anything."""
    import importlib.util
    return os.environ.get("RNNLM_NUMBA", "1") != "0" and importlib.util.find_spec("numba") is not None


def kernels(X):
    """The compiled kernels for arrays like X (numpy float32), else None (numba missing or off,
    another dtype, another array module)."""
    global _kernels
    if type(X).__module__ != "numpy" or X.dtype.char != "f":
        return None
    if _kernels is None:
        _kernels = False
        if os.environ.get("RNNLM_NUMBA", "1") != "0":
            try:
                _kernels = _compile()
            except ImportError:
                pass
    return _kernels or None


def loops(X):
    """The compiled time loops (timeloop.py) for arrays like X (numpy float32) when numba and MKL are
    both in use, else None. MKL's library is made known to numba's linker first: the loops call
    it by name, so their compiled code is cached on disk like the others'."""
    global _loops
    from rnnlm import mkl
    gates = kernels(X)
    if not gates or not mkl.enabled():  # asked each time: MKL may be switched off later
        return None
    if _loops is None:
        import llvmlite.binding
        import numba

        from . import timeloop
        _loops = False
        try:
            llvmlite.binding.load_library_permanently(mkl.path())
        except RuntimeError:  # the library would not load into numba's linker: Python's loop
            return None
        jit = numba.njit(nogil=True, cache=True, error_model="numpy", boundscheck=False)
        timeloop.lstm_forward, timeloop.lstm_backward = gates["lstm_forward"], gates["lstm_backward"]
        timeloop.gru_forward, timeloop.gru_backward = gates["gru_forward"], gates["gru_backward"]
        timeloop.rnn_forward, timeloop.rnn_backward = gates["rnn_forward"], gates["rnn_backward"]
        _loops = timeloop.build(jit)
    return _loops or None
