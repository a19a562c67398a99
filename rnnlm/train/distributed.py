"""Data-parallel training on MPI: ``mpiexec -n K rnnlm train CONFIG --out DIR``.

Every rank holds the whole model and trains on K-th of the batch: rank r takes the rows
r*B/K .. (r+1)*B/K - 1 of the B streams one process would have, so the K ranks together see
exactly the one-process batch. Each step, ONE Allreduce (a sum) over one flat buffer carries

    [ every gradient | loss | tokens | squared step norms (L*T) | stop flags (SIGINT, SIGTERM) ]

each rank's entries weighted by its share 1/K of the step's tokens (every rank has B/K streams of
the same window, so the same token count). After the sum every rank holds the gradient of the
global-batch mean loss and takes the same clipping and the same optimizer step. The step norms
‖∂L/∂s_t‖ are of the whole batch: the ranks' rows are disjoint, so their squared norms add up
(norms would not): ‖∂L/∂s_t‖² = Σ_r (1/K)² ‖∂L_r/∂s_t^(r)‖², L_r being rank r's own mean loss.
A signal (mpiexec forwards SIGINT and SIGTERM to every rank) is agreed on the same way, so every
rank stops after the same step.

Rank 0 alone writes metrics, checkpoints and progress, evaluates the whole validation split,
computes the probe (on the window gathered from every rank) and samples. Checkpoints hold the
hidden state of all B streams, gathered into one (B, H) array per tensor as one process has it:
a checkpoint does not depend on K, and a run resumes on any K that divides B. Dropout masks are
drawn for the whole batch from the one shared generator and sliced, so they match too.

A rank that fails ends the job: an exception prints its one line and calls MPI_Abort (which
ends every rank), and mpiexec ends the job when a rank is killed. Without this, the other ranks
would wait in the next Allreduce forever.

This module is the only one that imports mpi4py, and only when an MPI launcher started this
process with more than one rank; otherwise ``world()`` is ``Single``, whose hooks do nothing.
"""

import os
import signal
import sys
import time
import traceback
from contextlib import contextmanager

import numpy as np

from rnnlm.backend import array_module, to_device, to_host
from rnnlm.console import say, warn
from rnnlm.errors import ConfigError, RnnlmError

# What MPI launchers put in a rank's environment: the number of ranks.
_SIZE_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)  # the order of the stop flags in the buffer
_ROOT_FIRST_S = 1.0  # a failing non-root rank waits this long, so that the root's line wins


def launched_size():
    """The number of ranks an MPI launcher started (1 when none did)."""
    for var in _SIZE_VARIABLES:
        value = os.environ.get(var, "")
        if value.isdigit():
            return int(value)
    return 1


_WORLD = None


def world():
    """This process's place in the job: Single, or Mpi when mpiexec started more than one rank."""
    global _WORLD
    if _WORLD is None:
        size = launched_size()
        _WORLD = Single() if size <= 1 else Mpi(_import_mpi(size))
    return _WORLD


def is_root():
    """Whether this process prints results (the summary, the sample): rank 0, or the only one."""
    return world().is_root


def _import_mpi(size):
    try:
        from mpi4py import MPI
    except ImportError:
        raise RnnlmError(f"started by an MPI launcher with {size} ranks, but mpi4py is not "
                         "installed: pip install -e '.[mpi]' in the rnnlm checkout") from None
    return MPI


class Single:
    """One process: the whole batch here, nothing to add up, nobody to wait for."""

    size, rank, is_root = 1, 0, True

    def shard(self, streams):
        """This rank's rows of the (B, N) streams."""
        return streams

    def dropout_rng(self, rng):
        """The generator the model draws its dropout masks from."""
        return rng

    def reduce_step(self, grads, loss, tokens, step_norms, stop):
        """Add the ranks' gradients (in place), losses, tokens, step norms and stop requests.

        Returns (loss, tokens, step_norms, stop signal or None) of the global batch."""
        return loss, tokens, step_norms, stop

    def stop_signal(self, stop, out):
        """The signal to stop on after step result `out` (None: go on); `stop` a GracefulStop."""
        return stop.requested if stop is not None else None

    def gather_rows(self, arrays):
        """Arrays of this rank's rows (B/K, ...) -> the whole batch's (B, ...) on the root, in
        row order; None on the other ranks."""
        return list(arrays)

    def local_rows(self, arrays):
        """A checkpoint's arrays with the hidden state cut to this rank's rows."""
        return arrays

    def share(self, value):
        """The root's value on every rank (a validation loss: what every rank's schedule,
        optimizer trigger and early stop must see alike)."""
        return value

    def say(self, msg):
        say(msg)

    def warn(self, msg):
        warn(msg)

    def together(self, fn):
        """fn() on every rank; an RnnlmError on any rank ends every rank in good order."""
        return fn()

    @contextmanager
    def failing_ends_job(self):
        """An exception here ends every rank of the job (nothing to do for one process)."""
        yield


class Mpi(Single):
    """Rank `rank` of `size` in MPI_COMM_WORLD."""

    def __init__(self, MPI):
        self.MPI, self.comm = MPI, MPI.COMM_WORLD
        self.size, self.rank = self.comm.Get_size(), self.comm.Get_rank()
        self.is_root = self.rank == 0
        self._excepthook = sys.excepthook
        sys.excepthook = self._abort_hook  # outside train() too: never leave the others waiting

    # ------------------------------------------------------------ the data
    def rows(self, batch_size):
        if batch_size % self.size:
            raise ConfigError(f"train.batch_size={batch_size} does not split over {self.size} MPI "
                              f"ranks: choose a batch size divisible by {self.size} (each rank "
                              "takes B/K streams) or another number of ranks")
        n = batch_size // self.size
        return slice(self.rank * n, (self.rank + 1) * n)

    def shard(self, streams):
        return streams[self.rows(streams.shape[0])]

    def dropout_rng(self, rng):
        return _RowsOfGlobalDraw(rng, self.size, self.rank)

    def local_rows(self, arrays):
        return {k: a[self.rows(a.shape[0])] if k.startswith("state/") else a
                for k, a in arrays.items()}

    # ------------------------------------------------------------ the one Allreduce
    def reduce_step(self, grads, loss, tokens, step_norms, stop):
        names = sorted(grads)
        sizes = [grads[k].size for k in names]
        norms = np.asarray(step_norms)
        dtype = grads[names[0]].dtype if names else np.float64
        w = 1.0 / self.size  # every rank: B/K streams of the same window, the same token count
        buf = np.empty(sum(sizes) + 2 + norms.size + len(_STOP_SIGNALS), dtype)
        at = 0
        for k, n in zip(names, sizes):
            buf[at:at + n] = to_host(grads[k]).reshape(-1)
            at += n
        buf[:at] *= dtype.type(w)
        buf[at:at + 2] = loss * w, tokens
        buf[at + 2:at + 2 + norms.size] = (norms.reshape(-1).astype(np.float64) * w) ** 2
        buf[at + 2 + norms.size:] = [float(stop == s) for s in _STOP_SIGNALS]
        self.comm.Allreduce(self.MPI.IN_PLACE, buf, op=self.MPI.SUM)
        at = 0
        for k, n in zip(names, sizes):
            g = grads[k]
            g[...] = to_device(buf[at:at + n].reshape(g.shape), array_module(g))
            at += n
        getattr(grads, "rows", {}).clear()  # other ranks' rows are in the sums now
        loss, tokens = float(buf[at]), int(round(float(buf[at + 1])))
        norms = np.sqrt(buf[at + 2:at + 2 + norms.size]).reshape(norms.shape)
        flags = buf[at + 2 + norms.size:]
        stop = next((s for s, f in zip(_STOP_SIGNALS, flags) if f > 0), None)
        return loss, tokens, norms, stop

    def stop_signal(self, stop, out):
        return out.stop  # agreed in the step's Allreduce: every rank stops after the same step

    def gather_rows(self, arrays):
        out = []
        for a in arrays:
            a = np.ascontiguousarray(to_host(a))
            whole = np.empty((a.shape[0] * self.size, *a.shape[1:]), a.dtype) \
                if self.is_root else None
            self.comm.Gather(a, whole, root=0)
            out.append(whole)
        return out if self.is_root else None

    def share(self, value):
        return self.comm.bcast(value, root=0)

    # ------------------------------------------------------------ talking and failing
    def together(self, fn):
        """fn() on every rank (the setup: no collective calls inside), then one Allreduce of
        who failed. A user error on any rank (a bad config, a run already there) then ends every
        rank normally, with one line from the first rank that failed, instead of an MPI_Abort."""
        error = None
        try:
            result = fn()
        except RnnlmError as e:
            result, error = None, e
        failed = np.zeros(self.size, np.int64)
        failed[self.rank] = error.exit_code if error is not None else 0
        self.comm.Allreduce(self.MPI.IN_PLACE, failed, op=self.MPI.SUM)
        first = int(np.argmax(failed > 0)) if failed.any() else None
        if first is None:
            return result
        if self.rank == first:
            if self.is_root:
                error.every_rank_ends = True  # no MPI_Abort: the others leave on their own
                raise error  # the command prints it as for one process
            print(f"rnnlm: error (MPI rank {self.rank} of {self.size}): {error}",
                  file=sys.stderr, flush=True)
        raise SystemExit(int(failed[first]))

    def say(self, msg):
        if self.is_root:
            say(msg)

    def warn(self, msg):
        if self.is_root:
            warn(msg)

    @contextmanager
    def failing_ends_job(self):
        try:
            yield
        except SystemExit:
            raise
        except Exception as e:  # Stopped is an RnnlmError too, but every rank raises it together
            from rnnlm.run.signals import Stopped
            if isinstance(e, Stopped) or getattr(e, "every_rank_ends", False):
                raise e if self.is_root else SystemExit(e.exit_code)  # one line, from rank 0
            self._abort(e)
        except BaseException as e:  # KeyboardInterrupt: a second Ctrl-C
            self._abort(e)

    def _abort(self, e):
        if not self.is_root:
            time.sleep(_ROOT_FIRST_S)  # the same error on the root: its line first, then the end
        where = "" if self.is_root else f" (MPI rank {self.rank} of {self.size})"
        if isinstance(e, RnnlmError):
            print(f"rnnlm: error{where}: {e}", file=sys.stderr, flush=True)
            code = e.exit_code
        elif isinstance(e, KeyboardInterrupt):
            print(f"rnnlm: interrupted{where}", file=sys.stderr, flush=True)
            code = 130
        else:
            print(f"rnnlm: internal error{where}:", file=sys.stderr)
            traceback.print_exception(type(e), e, e.__traceback__, file=sys.stderr)
            sys.stderr.flush()
            code = 1
        time.sleep(0.2)  # let the launcher pass the line on before it ends the job
        self.comm.Abort(code)  # ends every rank of the job; mpiexec exits with `code`
        os._exit(code)  # MPI_Abort may return before the launcher's kill arrives

    def _abort_hook(self, kind, value, tb):
        self._excepthook(kind, value, tb)
        sys.stderr.flush()
        self.comm.Abort(1)
        os._exit(1)


class _RowsOfGlobalDraw:
    """A generator that draws dropout masks (T, B, ...) for the whole batch from the run's one
    generator and hands back this rank's rows (T, B/K, ...): the same masks as one process."""

    def __init__(self, rng, size, rank):
        self.rng, self.size, self.rank = rng, size, rank
        self.whole = rng  # masks every rank shares (word dropout, weight-drop): drawn whole

    def random(self, shape):
        T, b, *rest = shape
        return self.rng.random((T, b * self.size, *rest))[:, self.rank * b:(self.rank + 1) * b]
