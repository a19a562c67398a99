"""Graceful stop on SIGINT / SIGTERM.

The first signal only raises a flag: the trainer finishes the step it is in, writes a checkpoint
and exits with 128 + the signal number (130 for Ctrl-C, 143 for SIGTERM). A second Ctrl-C (or
SIGTERM) raises KeyboardInterrupt at once; checkpoint writes are atomic, so that leaves every
file whole: the previous checkpoint, or the new one. Once training has ended, the cleanup that
follows (closing the log, removing the lock) is not interrupted: a signal then is deferred and
raised again when it is done (release_held).
"""

import signal
import threading

from rnnlm.errors import RnnlmError

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
        # From here to release_held() the cleanup (closing files, removing the lock) must not be
        # cut short: a signal arriving now is only noted, and raised again by release_held().
        # (Blocking would not do: a signal the C handler already took would still run the
        # restored Python handler at the next bytecode.)
        self._deferred = None
        for sig in self._previous:
            signal.signal(sig, self._defer)
        return False

    def _defer(self, signum, frame):
        self._deferred = signum

    def release_held(self):
        """Restore the previous handlers; a signal noted during cleanup is raised again now."""
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()
        deferred, self._deferred = getattr(self, "_deferred", None), None
        if deferred is not None:
            signal.raise_signal(deferred)

    @property
    def name(self):
        return NAMES.get(self.requested, str(self.requested))
