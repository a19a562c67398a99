"""Atomic file writes: a temporary file in the same directory, fsync, then rename over the target.

A crash, a full disk or a second Ctrl-C leaves either the old file or the new one, never half of
one, and no temporary file behind. Imports nothing heavy: config.py uses it before numpy loads.
"""

import os


def write_atomic(path, data):
    """Write bytes to path atomically. Raises the OSError of a failed write, after cleaning up."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f".{os.path.basename(path)}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:  # make the rename itself durable
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass
