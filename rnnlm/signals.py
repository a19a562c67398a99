"""Graceful stop on SIGINT / SIGTERM.

The first signal only raises a flag: the trainer finishes the step it is in, writes a checkpoint
and exits with 128 + the signal number (130 for Ctrl-C, 143 for SIGTERM). A second Ctrl-C (or
SIGTERM) raises KeyboardInterrupt at once; checkpoint writes are atomic, so that leaves every
file whole: the previous checkpoint, or the new one.
"""

import signal
import threading

from .errors import RnnlmError

NAMES = {signal.SIGINT: "SIGINT", signal.SIGTERM: "SIGTERM"}


class Stopped(RnnlmError):
    """Training stopped on a signal after writing a checkpoint; exit code 128 + signum."""

    def __init__(self, message, signum):
        super().__init__(message)
        self.exit_code = 128 + signum


class GracefulStop:
    """Context manager; `requested` is the first signal number received, or None."""

    def __init__(self):
        self.requested = None
        self._previous = {}

    def _handle(self, signum, frame):
        if self.requested is not None:
            raise KeyboardInterrupt  # the second one: stop now
        self.requested = signum

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():  # signals reach only that one
            for sig in NAMES:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()
        return False

    @property
    def name(self):
        return NAMES.get(self.requested, str(self.requested))
