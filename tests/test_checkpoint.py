"""Checkpoints: verification of bad files, rotation, falling back past a corrupt newest one,
the run-directory lock, and the non-finite policies (skip, rollback, stop)."""

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

import rnnlm.train.step
from rnnlm.run.checkpoint import load_checkpoint, save_checkpoint
from rnnlm.cli import app
from rnnlm.errors import CheckpointError

from hostile_npz import absurd_shape_npz as write_absurd
from hostile_npz import object_array_npz

TEXT = "a small text to train on, over and over; nothing more.\n" * 8


def write_config(d, **train):
    (d / "corpus.txt").write_text(TEXT)
    t = {"batch_size": 2, "bptt": 8, "max_steps": 30, "log_every": 1, "eval_every": 10,
         "sample_length": 0, **train}
    cfg = d / "cfg.yaml"
    cfg.write_text(f"data: {{corpus: {d / 'corpus.txt'}}}\n"
                   "model: {cell: gru, layers: 1, embed_size: 8, hidden_size: 8}\n"
                   "train: {" + ", ".join(f"{k}: {v}" for k, v in t.items()) + "}\n")
    return cfg


def cli(*args):
    r = CliRunner().invoke(app, [str(a) for a in args])
    assert "Traceback" not in r.output
    return r


def metrics(run):
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


# ---------------------------------------------------------------- the file format
def test_round_trip_and_checksum(tmp_path):
    arrays = {"param/w": np.arange(6, dtype=np.float32).reshape(2, 3)}
    save_checkpoint(tmp_path / "c.npz", arrays, {"step": 3})
    got, meta = load_checkpoint(tmp_path / "c.npz")
    assert np.array_equal(got["param/w"], arrays["param/w"]) and meta["step"] == 3
    raw = bytearray((tmp_path / "c.npz").read_bytes())
    i = raw.find(np.arange(6, dtype=np.float32).tobytes())
    raw[i + 5] ^= 0xFF  # flip one bit of one parameter
    (tmp_path / "c.npz").write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="checksum"):
        load_checkpoint(tmp_path / "c.npz")


def test_refuses_nan(tmp_path):
    with pytest.raises(CheckpointError, match="NaN or inf"):
        save_checkpoint(tmp_path / "c.npz", {"param/w": np.array([1.0, np.nan])}, {})
    assert not list(tmp_path.iterdir())


def test_bad_files_raise_checkpoint_error(tmp_path):
    save_checkpoint(tmp_path / "good.npz", {"param/w": np.ones(100)}, {"step": 1})
    good = (tmp_path / "good.npz").read_bytes()
    cases = {"truncated.npz": good[:len(good) // 2], "text.npz": b"not a checkpoint at all\n",
             "empty.npz": b""}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(CheckpointError, match="corrupt|not an"):
            load_checkpoint(tmp_path / name)


def absurd_shape_npz(path):
    """An .npz whose header declares 2**40 float64s but holds 8 bytes."""
    write_absurd(path, "param/w", (1 << 20, 1 << 20), 8, "<f8")


def test_object_array_refused_without_unpickling(tmp_path, monkeypatch):
    object_array_npz(tmp_path / "obj.npz")
    import pickle
    monkeypatch.setattr(pickle, "loads", lambda *a, **k: pytest.fail("unpickled"))
    with pytest.raises(CheckpointError, match="object array"):
        load_checkpoint(tmp_path / "obj.npz")


def test_absurd_shape_refused_before_allocating(tmp_path, monkeypatch):
    absurd_shape_npz(tmp_path / "big.npz")
    monkeypatch.setattr(np.lib.format, "read_array", lambda *a, **k: pytest.fail("allocated"))
    with pytest.raises(CheckpointError, match="absurd shape"):
        load_checkpoint(tmp_path / "big.npz")


# ---------------------------------------------------------------- rotation and fallback
def test_rotation_keeps_last_n_and_best(tmp_path):
    cfg = write_config(tmp_path, max_steps=50, keep_checkpoints=2)
    assert cli("train", cfg, "--out", tmp_path / "run", "--no-progress").exit_code == 0
    names = sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir())
    assert names == ["best.npz", "last.npz", "step-00000040.npz", "step-00000050.npz"]


def test_corrupt_newest_falls_back_with_warning(tmp_path):
    cfg = write_config(tmp_path, keep_checkpoints=3)
    run = tmp_path / "run"
    assert cli("train", cfg, "--out", run, "--no-progress").exit_code == 0
    ck = run / "checkpoints"
    for name in ("last.npz", "step-00000030.npz"):  # the newest, twice over
        data = (ck / name).read_bytes()
        (ck / name).write_bytes(data[:len(data) // 3])
    r = cli("train", cfg, "--out", run, "--no-progress", "--resume", "--set", "train.max_steps=40")
    assert r.exit_code == 0, r.output
    assert "warning: skipping" in r.stderr and "using the previous checkpoint" in r.stderr
    assert "at step 20" in r.stderr
    steps = [m["step"] for m in metrics(run) if m["kind"] == "train"]
    assert steps == list(range(1, 41))  # 21..30 dropped and trained again


def test_resume_with_nothing_valid_fails(tmp_path):
    cfg = write_config(tmp_path)
    run = tmp_path / "run"
    r = cli("train", cfg, "--out", run, "--no-progress", "--resume")
    assert r.exit_code != 0 and "no checkpoint to resume from" in r.stderr
    assert cli("train", cfg, "--out", run, "--no-progress").exit_code == 0
    before = (run / "metrics.jsonl").read_bytes()
    for f in (run / "checkpoints").iterdir():
        f.write_bytes(b"garbage")
    r = cli("train", cfg, "--out", run, "--no-progress", "--resume")
    assert r.exit_code != 0 and "no valid checkpoint" in r.stderr
    assert (run / "metrics.jsonl").read_bytes() == before


def test_new_run_over_old_one_is_refused(tmp_path):
    cfg = write_config(tmp_path)
    run = tmp_path / "run"
    assert cli("train", cfg, "--out", run, "--no-progress").exit_code == 0
    r = cli("train", cfg, "--out", run, "--no-progress")
    assert r.exit_code != 0 and "already holds a run" in r.stderr and "--resume" in r.stderr
    assert cli("train", cfg, "--out", run, "--no-progress", "--overwrite").exit_code == 0
    assert len([m for m in metrics(run) if m["kind"] == "train"]) == 30


# ---------------------------------------------------------------- the lock
def test_lock_held_by_a_live_trainer_is_refused(tmp_path):
    cfg = write_config(tmp_path)
    run = tmp_path / "run"
    run.mkdir()
    (run / "train.lock").write_text(f"{os.getppid()}\n")  # a live process that is not us
    r = cli("train", cfg, "--out", run, "--no-progress")
    assert r.exit_code != 0 and "in use by another trainer" in r.stderr
    assert (run / "train.lock").read_text() == f"{os.getppid()}\n"


def test_stale_lock_is_taken_over(tmp_path):
    cfg = write_config(tmp_path)
    run = tmp_path / "run"
    run.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (run / "train.lock").write_text(f"{dead.pid}\n")
    r = cli("train", cfg, "--out", run, "--no-progress")
    assert r.exit_code == 0, r.output
    assert "stale lock" in r.stderr and not (run / "train.lock").exists()


# ---------------------------------------------------------------- non-finite values
@pytest.fixture
def nan_on_calls(monkeypatch):
    """Make model.window_loss_and_grads return a NaN loss on the given (1-based) calls."""
    def install(*calls):
        real, count = rnnlm.train.step.window_loss_and_grads, [0]

        def fake(*args, **kwargs):
            count[0] += 1
            r = real(*args, **kwargs)
            if count[0] in calls:
                r.grads["head.b"][0] = np.inf
                return r._replace(loss=math.nan)
            return r
        monkeypatch.setattr(rnnlm.train.step, "window_loss_and_grads", fake)
    return install


def assert_all_checkpoints_finite(run):
    for f in (run / "checkpoints").iterdir():
        arrays, _ = load_checkpoint(f)
        assert all(np.all(np.isfinite(a)) for a in arrays.values() if a.dtype.kind == "f")


def test_nonfinite_skip(tmp_path, nan_on_calls):
    nan_on_calls(15)
    cfg = write_config(tmp_path, on_nonfinite="skip")
    r = cli("train", cfg, "--out", tmp_path / "run", "--no-progress")
    assert r.exit_code == 0, r.output
    assert "step 15: non-finite loss or gradient" in r.stderr
    events = [m for m in metrics(tmp_path / "run") if m["kind"] == "event"]
    assert len(events) == 1 and events[0]["step"] == 15 and events[0]["policy"] == "skip"
    steps = [m["step"] for m in metrics(tmp_path / "run") if m["kind"] == "train"]
    assert steps == list(range(1, 31))
    assert_all_checkpoints_finite(tmp_path / "run")


def test_nonfinite_rollback_lowers_lr(tmp_path, nan_on_calls):
    nan_on_calls(25)
    cfg = write_config(tmp_path, on_nonfinite="rollback", rollback_lr_factor=0.25)
    run = tmp_path / "run"
    r = cli("train", cfg, "--out", run, "--no-progress")
    assert r.exit_code == 0, r.output
    assert "rolled back to step 20" in r.stderr
    recs = metrics(run)
    ev = [m for m in recs if m["kind"] == "event"]
    assert len(ev) == 1 and ev[0]["rolled_back_to"] == 20 and ev[0]["failed_step"] == 25
    train = [m for m in recs if m["kind"] == "train"]
    assert [m["step"] for m in train] == list(range(1, 31))  # 21..24 dropped, trained again
    assert all(m["lr"] == pytest.approx(0.25 * 2e-3) for m in train if m["step"] > 20)
    assert load_checkpoint(run / "checkpoints" / "last.npz")[1]["lr_scale"] == 0.25
    assert_all_checkpoints_finite(run)


def test_nonfinite_rollback_without_checkpoint_stops(tmp_path, nan_on_calls):
    nan_on_calls(3)
    cfg = write_config(tmp_path, on_nonfinite="rollback")
    r = cli("train", cfg, "--out", tmp_path / "run", "--no-progress")
    assert r.exit_code != 0 and "no checkpoint to roll back to" in r.stderr


def test_nonfinite_stop(tmp_path, nan_on_calls):
    nan_on_calls(12)
    cfg = write_config(tmp_path, on_nonfinite="stop")
    run = tmp_path / "run"
    r = cli("train", cfg, "--out", run, "--no-progress")
    assert r.exit_code != 0
    assert "error: loss or gradient became NaN/inf at step 12" in r.stderr
    assert [m["event"] for m in metrics(run) if m["kind"] == "event"] == ["nonfinite"]
    assert load_checkpoint(run / "checkpoints" / "last.npz")[1]["step"] == 10
    assert_all_checkpoints_finite(run)
    assert not (run / "train.lock").exists()


def test_endless_nonfinite_gives_up(tmp_path, nan_on_calls):
    nan_on_calls(*range(5, 100))
    cfg = write_config(tmp_path, on_nonfinite="skip")
    r = cli("train", cfg, "--out", tmp_path / "run", "--no-progress")
    assert r.exit_code != 0 and "non-finite steps in a row" in r.stderr


def test_huge_learning_rate_never_checkpoints_nan(tmp_path):
    cfg = write_config(tmp_path, on_nonfinite="skip")
    r = cli("train", cfg, "--out", tmp_path / "run", "--no-progress",
            "--set", "optim.lr=1e30", "--set", "optim.name=sgd", "--set", "optim.clip_norm=0")
    assert "Traceback" not in r.output
    if (tmp_path / "run" / "checkpoints").is_dir():
        assert_all_checkpoints_finite(tmp_path / "run")
