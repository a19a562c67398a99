"""Intel MKL's packed matrix product, for the recurrent product of the time loop (optional).

A window multiplies the same recurrent matrix W_h (H, kH) T times by a skinny (B, H) block, once a
step, forward and backward. BLAS re-lays W_h out for its kernel on every call; MKL's packed API
(``cblas_?gemm_pack`` once, ``cblas_?gemm_compute`` per step) does it once per window. On this
project's 2-core Xeon (AVX-512), B 32, H 512, one thread: numpy's OpenBLAS 87 (forward) and 64
(backward) GFLOP/s, MKL packed 145 and 143; two threads 144 / 97 against 295 / 249.

Switched on when the ``mkl`` package is installed (``pip install -e '.[mkl]'`` in the rnnlm
checkout) and off with the environment variable ``RNNLM_MKL=0``. Then the other matrix products
of a step (``matmul``, through rnnlm.backend) and the SGD update (``axpy``) run on MKL too, so one
thread pool does them all; element-wise work stays numpy's. Tests hold both paths equal. MKL reads its thread count from MKL_NUM_THREADS, which
``train.threads`` / ``--threads`` set before the library is loaded.
"""

import ctypes
import mmap
import os
import weakref
from typing import NamedTuple

_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112
_B_MATRIX, _PACKED = 162, 151  # CblasBMatrix, CblasPacked
_lib = None  # {dtype char: Functions} of the loaded libmkl_rt, False once loading failed or off


class Functions(NamedTuple):
    """MKL's functions of one precision, bound with their argument types."""
    pack_size: object
    pack: object
    compute: object
    gemm: object
    axpy: object
    max_threads: object  # () -> the threads a product may use
    local_threads: object  # (n) -> this thread's earlier setting; its products on n threads


def _find():
    """Path of libmkl_rt from the installed ``mkl`` distribution's file list, or None."""
    from importlib import metadata
    try:
        files = metadata.distribution("mkl").files or ()
    except metadata.PackageNotFoundError:
        return None
    for f in files:
        name = f.name
        if name.startswith("libmkl_rt.so") or (name.startswith("mkl_rt.") and name.endswith(".dll")):
            path = str(f.locate())
            if os.path.exists(path):
                return path
    return None


def _bind(lib, prefix, real):
    """Functions of one precision (prefix 's' or 'd')."""
    i, p, size_t = ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t
    gemm = getattr(lib, f"cblas_{prefix}gemm")
    gemm.argtypes, gemm.restype = [i, i, i, i, i, i, real, p, i, p, i, real, p, i], None
    size = getattr(lib, f"cblas_{prefix}gemm_pack_get_size")
    size.argtypes, size.restype = [i, i, i, i], size_t
    pack = getattr(lib, f"cblas_{prefix}gemm_pack")
    pack.argtypes, pack.restype = [i, i, i, i, i, i, real, p, i, p], None
    compute = getattr(lib, f"cblas_{prefix}gemm_compute")
    compute.argtypes, compute.restype = [i, i, i, i, i, i, p, i, p, i, real, p, i], None
    axpy = getattr(lib, f"cblas_{prefix}axpy")
    axpy.argtypes, axpy.restype = [i, real, p, i, p, i], None
    max_threads, local_threads = lib.MKL_Get_Max_Threads, lib.MKL_Set_Num_Threads_Local
    max_threads.argtypes, max_threads.restype = [], i
    local_threads.argtypes, local_threads.restype = [i], i
    return Functions(size, pack, compute, gemm, axpy, max_threads, local_threads)


def library():
    """The bound MKL functions {dtype char: Functions}, or None (not installed, or off)."""
    global _lib
    if _lib is None:
        _lib = False
        path = _find() if os.environ.get("RNNLM_MKL", "1") != "0" else None
        if path:
            try:
                lib = ctypes.CDLL(path)
                _lib = {"f": _bind(lib, "s", ctypes.c_float), "d": _bind(lib, "d", ctypes.c_double)}
            except (OSError, AttributeError):
                _lib = False
    return _lib or None


def path():
    """The libmkl_rt in use (the compiled time loops call it by name), or None."""
    return _find() if library() is not None else None


def enabled():
    """MKL loaded and in use (loads it on the first call)."""
    return library() is not None


def available():
    """MKL installed and not switched off, without loading it."""
    return os.environ.get("RNNLM_MKL", "1") != "0" and _find() is not None


def threads():
    """The threads MKL's products use (MKL_NUM_THREADS), 1 without MKL."""
    lib = library()
    return lib["f"].max_threads() if lib else 1


def single_threaded(run, *args):
    """run(*args) with MKL's products in this thread on one thread (other threads keep theirs)."""
    local = library()["f"].local_threads
    before = local(1)
    try:
        return run(*args)
    finally:
        local(before)


def quiet_idle_threads():
    """Called before numpy is imported, with MKL in use (each unless the user set it already):
    numpy's OpenBLAS threads go to sleep right after each of their calls
    (OPENBLAS_THREAD_TIMEOUT); left spinning, they held the cores MKL's threads wanted: at 2
    threads config a ran at 3,800 tokens/s instead of 9,100 (7,700 without MKL). MKL's own
    OpenMP threads spin 1 ms after a product instead of 200 (KMP_BLOCKTIME): long enough to stay
    awake between the time loop's products, short enough to leave the cores to the softmax's
    row blocks (backend.by_rows) after the head's product; config b at 2 threads 69.6 -> 64.2 ms
    a step, the others unchanged within noise."""
    if available():
        os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")
        os.environ.setdefault("KMP_BLOCKTIME", "1")


def _layout(A):
    """(CBLAS transpose flag, leading dimension) of a 2-d array with contiguous rows (as is) or
    contiguous columns (transposed), else None."""
    s0, s1 = A.strides
    n = A.itemsize
    if s1 == n and s0 % n == 0 and s0 >= A.shape[1] * n:
        return _NO_TRANS, s0 // n
    if s0 == n and s1 % n == 0 and s1 >= A.shape[0] * n:
        return _TRANS, s1 // n
    return None


def matmul(np, A, B, out=None):
    """A @ B for 2-d A (M, K) and B (K, N) of one float dtype, on MKL when it is in use (each
    operand as laid out, transposed views included), else on numpy. out: (M, N) or None."""
    if A.ndim != 2 or B.ndim != 2:
        return np.matmul(A, B, out=out)
    M, K = A.shape
    N = B.shape[1]
    lib = library()
    la, lb = _layout(A), _layout(B)
    if (lib is None or A.dtype != B.dtype or A.dtype.char not in "fd" or la is None or lb is None
            or min(M, N, K) == 0 or (out is not None and (out.shape != (M, N) or out.dtype != A.dtype
                                                         or _row_stride(out) is None))):
        return np.matmul(A, B, out=out)
    if out is None:
        out = np.empty((M, N), A.dtype)
    lib[A.dtype.char].gemm(_ROW_MAJOR, la[0], lb[0], M, N, K, 1.0, A.ctypes.data, la[1], B.ctypes.data, lb[1], 0.0,
         out.ctypes.data, _row_stride(out))
    return out


def axpy(np, a, x, y):
    """y += a·x in place, for x and y of one shape and float dtype: one pass over contiguous
    arrays on MKL; else numpy in chunks of 2¹⁶ elements through a small buffer (``y -= a * x``
    would write and read a temporary as large as y, faulting in fresh pages each time)."""
    lib = library()
    if (lib is not None and x.dtype == y.dtype and x.dtype.char in "fd" and x.shape == y.shape
            and x.flags.c_contiguous and y.flags.c_contiguous):
        lib[x.dtype.char].axpy(x.size, a, x.ctypes.data, 1, y.ctypes.data, 1)
        return y
    if not (x.flags.c_contiguous and y.flags.c_contiguous and x.shape == y.shape):
        y += y.dtype.type(a) * x
        return y
    xf, yf = x.reshape(-1), y.reshape(-1)
    buf = np.empty(min(yf.size, 1 << 16), y.dtype)
    for i in range(0, yf.size, buf.size):
        chunk = buf[:min(buf.size, yf.size - i)]
        np.multiply(xf[i:i + chunk.size], y.dtype.type(a), out=chunk)
        yf[i:i + chunk.size] += chunk
    return y


def _row_stride(A):
    """Elements between rows of a 2-d array whose rows are contiguous, else None."""
    s0, s1 = A.strides
    return s0 // A.itemsize if s1 == A.itemsize and s0 % A.itemsize == 0 else None


# ---------------------------------------------------------------- the packed copies' memory
# MKL asks for more room than packing uses: cblas_sgemm_pack_get_size gives W's bytes plus about
# 8.5 MiB (config a: 12.6 MiB for a 4 MiB W_h; 8.8 MiB for 0.6 MiB), and pack and compute write
# only W's bytes, a header and panel edges (measured page by page at 1 and 2 threads; a test
# holds it). The buffers are therefore anonymous memory maps, whose untouched pages never become
# resident, kept for the next window (no fresh page faults), and reported to tracemalloc (so to
# the bench's memory figure) for the pages written, while a product holds them. A spare buffer
# reused for a smaller W keeps its earlier pages resident; they are not counted.
_PAGE = mmap.PAGESIZE
_TRACE_DOMAIN = 0x726E6E  # tracemalloc's domain for the pack buffers
_spare = []  # [(mmap, address)] free pack buffers, smallest first
_SPARE_KEPT = 4


def written_bytes(W):
    """The bytes of a pack buffer MKL writes for W: W's, to whole pages, and 64 KiB for its
    header and the panels' edges (measured: 3 to 9 pages more than W's)."""
    return -(-W.nbytes // _PAGE) * _PAGE + (64 << 10)


def _take_buffer(nbytes):
    """(mmap, address) of a free mapped buffer of at least nbytes."""
    for k, (m, address) in enumerate(_spare):
        if len(m) >= nbytes:
            return _spare.pop(k)
    m = mmap.mmap(-1, -(-nbytes // _PAGE) * _PAGE)
    return m, ctypes.addressof(ctypes.c_char.from_buffer(m))


def _give_back(buffer, traced):
    if traced:
        ctypes.pythonapi.PyTraceMalloc_Untrack(_TRACE_DOMAIN, ctypes.c_size_t(buffer[1]))
    _spare.append(buffer)
    _spare.sort(key=lambda b: len(b[0]))
    del _spare[:-_SPARE_KEPT]  # the largest few: a step needs one or two at a time


def _trace(address, nbytes):
    """Tell tracemalloc about nbytes at address; True if it is tracing."""
    track = ctypes.pythonapi.PyTraceMalloc_Track
    return track(_TRACE_DOMAIN, ctypes.c_size_t(address), ctypes.c_size_t(nbytes)) == 0


class PackedProduct:
    """out = A @ W (or A @ Wᵀ with transpose=True; out += with accumulate) for many A of
    ``rows`` rows: W packed once.

    W (K, N) (or (N, K) transposed) is float32 or float64; the packed copy lives in a mapped
    buffer kept for the next window (see above; tracemalloc sees the bytes written), and W may be
    freed after. A call with an A or out that MKL cannot take (other rows, non-contiguous rows,
    another dtype) runs numpy's matmul on the original W instead.
    """

    def __init__(self, np, W, rows, transpose=False):
        f = library()[W.dtype.char]
        self._compute = f.compute
        self.np, self.dtype = np, W.dtype
        src = np.ascontiguousarray(W)  # packed from its own layout: no copy for a contiguous W
        self.W = src.T if transpose else src  # the (K, N) matrix of the product (for the fallback)
        self.M, (self.K, self.N) = rows, self.W.shape
        buffer = _take_buffer(f.pack_size(_B_MATRIX, rows, self.N, self.K))
        self.address = buffer[1]
        weakref.finalize(self, _give_back, buffer, _trace(self.address, written_bytes(W)))
        f.pack(_ROW_MAJOR, _B_MATRIX, _TRANS if transpose else _NO_TRANS, rows, self.N, self.K,
               1.0, src.ctypes.data, src.shape[1], self.address)

    def __call__(self, A, out, accumulate=False):
        """out = A @ W, or out += A @ W with accumulate (MKL's beta = 1: no second pass)."""
        lda, ldc = _row_stride(A), _row_stride(out)
        if (A.shape != (self.M, self.K) or out.shape != (self.M, self.N) or lda is None
                or ldc is None or A.dtype != self.dtype or out.dtype != self.dtype):
            if accumulate:
                out += self.np.matmul(A, self.W)
                return out
            return self.np.matmul(A, self.W, out=out)
        self._compute(_ROW_MAJOR, _NO_TRANS, _PACKED, self.M, self.N, self.K, A.ctypes.data, lda,
                      self.address, self.K, 1.0 if accumulate else 0.0, out.ctypes.data,
                      ldc)
        return out
