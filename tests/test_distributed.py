"""Data-parallel training on MPI (rnnlm/train/distributed.py), run as real `mpiexec` jobs.

Two ranks with B/2 streams each take the same steps as one process with B streams (parameters,
losses, step norms, probe, validation); a killed rank ends the job; a stopped 2-rank run resumes
bit for bit, and on one process. Skipped where the MPI extra (pip install -e '.[mpi]') is missing.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from rnnlm.config import load_config
from rnnlm.run.checkpoint import load_checkpoint
from rnnlm.train import train

ROOT = Path(__file__).resolve().parents[1]
WORDS = "the quick brown fox jumps over a lazy dog while cats sit on warm mats".split()


def _mpiexec():
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return None
    here = Path(sys.executable).parent / "mpiexec"
    return str(here) if here.exists() else shutil.which("mpiexec")


MPIEXEC = _mpiexec()
needs_mpi = pytest.mark.skipif(MPIEXEC is None, reason="the MPI extra is not installed "
                               "(pip install -e '.[mpi]')")


def make_config(d, max_steps=20, **train):
    rng = np.random.default_rng(0)
    (d / "corpus.txt").write_text(" ".join(rng.choice(WORDS, 400)) + "\n")
    extra = "".join(f", {k}: {v}" for k, v in train.items())
    cfg = d / "cfg.yaml"
    cfg.write_text(f"data: {{corpus: {d / 'corpus.txt'}, valid_fraction: 0.1}}\n"
                   "model: {cell: lstm, layers: 2, embed_size: 8, hidden_size: 12, dropout: 0.1}\n"
                   f"train: {{batch_size: 4, bptt: 8, max_steps: {max_steps}, log_every: 1, "
                   f"sample_length: 0, dtype: float64{extra}}}\n"
                   "optim: {schedule: cosine, warmup_steps: 5, lr: 0.01, clip_norm: 0.5}\n")
    return cfg


def env(**extra):
    return dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1",
                OPENBLAS_NUM_THREADS="1", **extra)


def mpirun(n, cfg, out, *args, timeout=120, **kw):
    return subprocess.run([MPIEXEC, "-n", str(n), sys.executable, "-m", "rnnlm.cli", "train",
                           str(cfg), "--out", str(out), "--no-progress", *args], cwd=ROOT,
                          env=env(), capture_output=True, text=True, timeout=timeout, **kw)


def spawn(n, cfg, out, *args, **extra_env):
    return subprocess.Popen([MPIEXEC, "-n", str(n), sys.executable, "-m", "rnnlm.cli", "train",
                             str(cfg), "--out", str(out), "--no-progress", *args], cwd=ROOT,
                            env=env(**extra_env), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def records(run, kind):
    return [r for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())
            if r["kind"] == kind]


def params(run):
    arrays, meta = load_checkpoint(run / "checkpoints" / "last.npz")
    return {k: v for k, v in arrays.items() if "/" not in k}, meta


def wait_for(proc, ready, timeout=60):
    deadline = time.time() + timeout
    while not ready():
        assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline, "the run did not get there in time"
        time.sleep(0.005)


@needs_mpi
def test_two_ranks_take_the_steps_of_one_process(tmp_path):
    """Same global batch (B = 4): 2 ranks of 2 streams = 1 process of 4, dropout, clipping, the
    probe and the validation included, in float64."""
    cfg = make_config(tmp_path, eval_every=10, probe_every=5)
    train(load_config(cfg), tmp_path / "one", progress=False)
    done = mpirun(2, cfg, tmp_path / "two")
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("trained 20 steps") == 1  # rank 0 alone reports
    one, meta1 = params(tmp_path / "one")
    two, meta2 = params(tmp_path / "two")
    assert (meta1["world_size"], meta2["world_size"]) == (1, 2)
    for k in one:
        np.testing.assert_allclose(two[k], one[k], rtol=0, atol=1e-6, err_msg=k)
    for kind, keys in (("train", ("loss", "grad_norm", "step_norms", "tokens")),
                       ("eval", ("valid_loss",)), ("probe", ("loss", "probe_norms"))):
        a, b = records(tmp_path / "one", kind), records(tmp_path / "two", kind)
        assert len(a) == len(b) > 0, kind
        for ra, rb in zip(a, b):
            assert rb.get("world_size", 2) == 2
            for key in keys:
                np.testing.assert_allclose(rb[key], ra[key], rtol=1e-9, atol=1e-12,
                                           err_msg=f"{kind} {key} step {ra['step']}")
    # the hidden state of all 4 streams is in the checkpoint, as one process has it
    a, _ = load_checkpoint(tmp_path / "one" / "checkpoints" / "last.npz")
    b, _ = load_checkpoint(tmp_path / "two" / "checkpoints" / "last.npz")
    np.testing.assert_allclose(b["state/1.1"], a["state/1.1"], atol=1e-6)
    assert b["state/1.1"].shape == (4, 12)


@needs_mpi
def test_a_killed_rank_ends_the_job_within_seconds(tmp_path):
    cfg = make_config(tmp_path, max_steps=100000, eval_every=0)
    mark = uuid.uuid4().hex
    proc = spawn(2, cfg, tmp_path / "run", RNNLM_TEST_MARK=mark)
    try:
        wait_for(proc, lambda: (tmp_path / "run" / "metrics.jsonl").is_file()
                 and (tmp_path / "run" / "metrics.jsonl").stat().st_size > 0)
        rank1 = _rank_pid(mark, 1)
        os.kill(rank1, signal.SIGKILL)
        t0 = time.time()
        proc.wait(timeout=10)
        assert time.time() - t0 < 10
        assert proc.returncode != 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _rank_pid(mark, rank):
    """The pid of the rank started with RNNLM_TEST_MARK=mark in its environment."""
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            environ = (d / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"RNNLM_TEST_MARK={mark}".encode() in environ and \
                f"PMI_RANK={rank}".encode() in environ:
            return int(d.name)
    raise AssertionError(f"no process of rank {rank} found")


@needs_mpi
def test_a_stopped_two_rank_run_resumes_bit_for_bit(tmp_path):
    cfg = make_config(tmp_path, max_steps=300, eval_every=10, keep_checkpoints=2)
    ref = mpirun(2, cfg, tmp_path / "ref")
    assert ref.returncode == 0, ref.stderr
    out = tmp_path / "cut"
    proc = spawn(2, cfg, out)
    wait_for(proc, lambda: list((out / "checkpoints").glob("step-*.npz")))
    proc.send_signal(signal.SIGTERM)  # mpiexec passes it to both ranks
    _, err = proc.communicate(timeout=60)
    if proc.returncode == 0:
        pytest.skip("the run finished before the signal arrived")
    assert proc.returncode == 143, err
    assert err.count("stopped by SIGTERM") == 1, err
    stopped_at = params(out)[1]["step"]
    assert stopped_at < 300
    again = mpirun(2, cfg, out, "--resume")
    assert again.returncode == 0, again.stderr
    want, _ = params(tmp_path / "ref")
    got, meta = params(out)
    assert meta["step"] == 300
    for k in want:
        assert np.array_equal(got[k], want[k]), k
    assert [r["loss"] for r in records(out, "train")] == \
        [r["loss"] for r in records(tmp_path / "ref", "train")]


@needs_mpi
def test_a_two_rank_run_resumes_on_one_process(tmp_path):
    """Checkpoints hold all B streams, so K may change on --resume (same math, not bit for bit)."""
    cfg = make_config(tmp_path, max_steps=20, eval_every=10)
    train(load_config(cfg), tmp_path / "ref", progress=False)
    assert mpirun(2, cfg, tmp_path / "run").returncode == 0
    for name in ("last.npz", "step-00000020.npz"):  # back to the 2-rank checkpoint of step 10
        (tmp_path / "run" / "checkpoints" / name).unlink()
    train(load_config(cfg), tmp_path / "run", resume=True, progress=False)
    want, _ = params(tmp_path / "ref")
    got, meta = params(tmp_path / "run")
    assert meta["world_size"] == 1 and meta["step"] == 20
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=0, atol=1e-9, err_msg=k)


@needs_mpi
def test_a_batch_that_does_not_split_is_one_line(tmp_path):
    cfg = make_config(tmp_path)
    done = mpirun(3, cfg, tmp_path / "run")
    assert done.returncode == 2
    assert [line for line in done.stderr.splitlines() if line.startswith("rnnlm:")] == [
        "rnnlm: error: train.batch_size=4 does not split over 3 MPI ranks: choose a batch size "
        "divisible by 3 (each rank takes B/K streams) or another number of ranks"]
    assert not (tmp_path / "run" / "metrics.jsonl").exists()


def test_without_mpi4py_a_launched_run_names_the_extra(tmp_path):
    """Started by a launcher (PMI_SIZE=2) where mpi4py cannot be imported: one line, exit 2."""
    cfg = make_config(tmp_path)
    code = ("import sys; sys.modules['mpi4py'] = None\n"
            "from rnnlm.cli import main\n"
            f"sys.argv = ['rnnlm', 'train', {str(cfg)!r}, '--out', {str(tmp_path / 'run')!r}]\n"
            "main()\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env(PMI_SIZE="2"),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip() == ("rnnlm: error: started by an MPI launcher with 2 ranks, but "
                                   "mpi4py is not installed: pip install -e '.[mpi]' in the "
                                   "rnnlm checkout")


def test_one_process_is_single():
    """Without a launcher nothing of MPI is imported and the hooks do nothing."""
    code = ("import sys; from rnnlm.train.distributed import world; w = world(); "
            "print(type(w).__name__, w.size, 'mpi4py' in sys.modules)")
    clean = {k: v for k, v in env().items() if k not in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE")}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=clean,
                          capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["Single", "1", "False"]


@needs_mpi
def test_validation_driven_schedules_move_alike_on_every_rank(tmp_path):
    """The root evaluates; every rank must see its loss, or a plateau schedule, NT-ASGD's trigger
    or early stopping would act on the root alone and the ranks would part ways."""
    cfg = make_config(tmp_path, max_steps=40, eval_every=2, early_stop=6)
    cfg.write_text(cfg.read_text().replace(
        "optim: {schedule: cosine, warmup_steps: 5, lr: 0.01, clip_norm: 0.5}",
        "optim: {name: ntasgd, nonmono: 2, schedule: plateau, patience: 1, factor: 2, lr: 0.5, "
        "clip_norm: 0.5}"))
    train(load_config(cfg), tmp_path / "one", progress=False)
    done = mpirun(2, cfg, tmp_path / "two")
    assert done.returncode == 0, done.stderr
    a, b = records(tmp_path / "one", "train"), records(tmp_path / "two", "train")
    assert [r["lr"] for r in b] == pytest.approx([r["lr"] for r in a], rel=1e-12)
    assert len({r["lr"] for r in a}) > 1  # the plateau did lower the rate
    one, _ = params(tmp_path / "one")
    two, _ = params(tmp_path / "two")
    for k in one:
        np.testing.assert_allclose(two[k], one[k], rtol=0, atol=1e-6, err_msg=k)


def test_the_allreduce_drops_the_gradients_row_hints(monkeypatch):
    """Another rank's words are in the sums after the Allreduce: no row hint may survive it."""
    import types

    from rnnlm.nn.functional import Grads
    from rnnlm.train.distributed import Mpi

    class World:  # a job of two ranks in which the other rank's gradient is all ones
        def Get_size(self):
            return 2

        def Get_rank(self):
            return 0

        def Allreduce(self, _, buf, op):
            buf[:2 * 3] += 0.5  # the other rank's share (its gradient of ones, halved)

    MPI = types.SimpleNamespace(COMM_WORLD=World(), IN_PLACE=None, SUM=None)
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # Mpi() installs its own
    comm = Mpi(MPI)
    grads = Grads({"embed.W": np.zeros((2, 3))})
    grads["embed.W"][1] = 2.0
    grads.rows["embed.W"] = np.array([1])
    comm.reduce_step(grads, 1.0, 10, np.zeros((1, 2)), None)
    np.testing.assert_allclose(grads["embed.W"], [[0.5] * 3, [1.5] * 3])
    assert grads.rows == {}
