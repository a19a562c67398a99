"""Process-wide settings made once, before the math runs: the `rnnlm` command and the bench's
child processes call ``prepare()`` first. Imports no numpy (the thread count is set through the
environment before numpy is loaded)."""

import ctypes
import ctypes.util
import sys

from rnnlm.mkl import quiet_idle_threads


def prepare():
    quiet_idle_threads()
    keep_freed_memory()


def keep_freed_memory():
    """Ask glibc to keep freed memory for the process's next allocations (Linux; elsewhere a
    no-op). A step allocates and frees the same large arrays every time (the head's (N, V)
    logits: 28 MB on config b); by default glibc hands such blocks back to the kernel on free and
    gets fresh pages the next step, each page faulted in and zeroed while the matrix product
    writes it: on b that took the logits' product from 9 to 37 ms at 2 threads (the step from
    67 to 100 ms). Resident memory then stays at the peak of a step between steps, as with a
    caching allocator; blocks over 32 MiB are still mapped afresh each time. True if applied."""
    name = ctypes.util.find_library("c")
    if not sys.platform.startswith("linux") or not name:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):  # a libc without mallopt (musl)
        return False
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
    # blocks up to 32 MiB (glibc's largest setting) from the heap, and up to 1 GiB of it kept
    return mallopt(M_MMAP_THRESHOLD, 32 << 20) == 1 and mallopt(M_TRIM_THRESHOLD, 1 << 30) == 1
