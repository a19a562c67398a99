"""One trainer per run directory: a lock file holding the trainer's pid.

The file is created with O_CREAT | O_EXCL, so of two trainers started together exactly one gets
it. A lock left by a trainer that died (SIGKILL, power cut) names a pid that no longer runs: it is
taken over with a warning. The lock is removed when training ends, however it ends.
"""

import errno
import os

from rnnlm.console import warn
from rnnlm.errors import RnnlmError


def _pid_alive(pid):
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, it belongs to someone else
        return True
    return True


def _read_pid(path):
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            text = f.read(64).strip()
    except FileNotFoundError:
        return None
    except OSError:
        return -1
    return int(text) if text.isdigit() else -1


class RunLock:
    """Context manager: holds path (e.g. RUN_DIR/train.lock) while the block runs."""

    def __init__(self, path):
        self.path = os.fspath(path)
        self.held = False

    def acquire(self):
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                pid = _read_pid(self.path)
                if pid is not None and pid != os.getpid() and _pid_alive(pid):
                    raise RnnlmError(f"run directory '{os.path.dirname(self.path)}' is in use by "
                                     f"another trainer (pid {pid}): wait for it, stop it, or "
                                     "choose another --out") from None
                what = f"pid {pid}, no longer running" if pid and pid > 0 else "unreadable"
                warn(f"taking over the stale lock {self.path} ({what})")
                try:
                    os.unlink(self.path)
                except FileNotFoundError:
                    pass
                except OSError as e:
                    raise _unwritable(self.path, e) from None
                continue
            except OSError as e:
                raise _unwritable(self.path, e) from None
            try:
                os.write(fd, f"{os.getpid()}\n".encode())
            except OSError as e:
                os.close(fd)
                os.unlink(self.path)
                raise _unwritable(self.path, e) from None
            os.close(fd)
            self.held = True
            return self
        raise RnnlmError(f"cannot take the lock {self.path}: another trainer keeps taking it; "
                         "choose another --out")

    def release(self):
        # The trainer defers SIGINT/SIGTERM while this runs (signals.GracefulStop), so a
        # second Ctrl-C cannot leave the lock behind.
        if self.held and _read_pid(self.path) == os.getpid():
            try:
                os.unlink(self.path)
            except OSError:
                pass
        self.held = False

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
        return False


def _unwritable(path, e):
    hint = ("free disk space" if e.errno == errno.ENOSPC
            else "fix its permissions or choose another --out")
    return RnnlmError(f"cannot write to run directory '{os.path.dirname(path)}' "
                      f"({e.strerror or e}): {hint}")
