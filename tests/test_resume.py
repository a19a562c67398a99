"""Exact resume, tested as real subprocesses: a run killed (SIGKILL, SIGTERM, SIGINT, two SIGINTs)
after a checkpoint and resumed gives the same per-step losses and the same final parameters,
bit for bit, as a run that was never interrupted."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from rnnlm.run.checkpoint import load_checkpoint
from rnnlm.config import load_config
from rnnlm.train import train

ROOT = Path(__file__).resolve().parents[1]
WORDS = "the quick brown fox jumps over a lazy dog while cats sit on warm mats".split()


def make_config(d, dtype):
    rng = np.random.default_rng(0)
    (d / "corpus.txt").write_text(" ".join(rng.choice(WORDS, 160)) + "\n")
    cfg = d / f"cfg-{dtype}.yaml"
    cfg.write_text(f"data: {{corpus: {d / 'corpus.txt'}, valid_fraction: 0.1}}\n"
                   "model: {cell: lstm, layers: 2, embed_size: 8, hidden_size: 12, dropout: 0.1}\n"
                   "train: {batch_size: 4, bptt: 8, max_steps: 240, log_every: 1, eval_every: 10,\n"
                   f"        sample_length: 0, dtype: {dtype}, keep_checkpoints: 2}}\n"
                   "optim: {schedule: cosine, warmup_steps: 5, lr: 0.01}\n")
    return cfg


def records(run, kind):
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [(r["step"], r.get("loss", r.get("valid_loss"))) for r in map(json.loads, lines)
            if r["kind"] == kind]


def params(run):
    arrays, _ = load_checkpoint(run / "checkpoints" / "last.npz")
    return {k: v for k, v in arrays.items() if "/" not in k}


def spawn(cfg, out, *extra):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-m", "rnnlm.cli", "train", str(cfg), "--out",
                             str(out), "--no-progress", *extra], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(proc, ready, timeout=60):
    deadline = time.time() + timeout
    while not ready():
        assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline, "the run did not get there in time"
        time.sleep(0.003)


def wait_for_checkpoint(proc, out):
    wait_for(proc, lambda: list((out / "checkpoints").glob("step-*.npz")))


def logged_past(out, step):
    try:
        return any(s > step for s, _ in records(out, "train"))
    except (OSError, ValueError):  # a line half written
        return False


_REFERENCES = {}


def reference_run(dtype, tmp_path_factory):
    """The uninterrupted run (trained once per dtype, in this process)."""
    if dtype not in _REFERENCES:
        d = tmp_path_factory.mktemp(f"ref-{dtype}")
        cfg = make_config(d, dtype)
        train(load_config(cfg), d / "ref", progress=False)
        _REFERENCES[dtype] = cfg, d / "ref"
    return _REFERENCES[dtype]


def assert_same_as_reference(run, ref):
    assert records(run, "train") == records(ref, "train")  # one record per step, same losses
    assert records(run, "eval") == records(ref, "eval")
    a, b = params(run), params(ref)
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    (a, meta_a), (b, meta_b) = (load_checkpoint(r / "checkpoints" / "best.npz") for r in (run, ref))
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    for meta in (meta_a, meta_b):  # all but the time spent, which differs
        del meta["seconds"], meta["cpu_seconds"]
    assert meta_a == meta_b


def resume(cfg, out):
    proc = spawn(cfg, out, "--resume")
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "resuming from" in err and "Traceback" not in err
    return err


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sigkill_then_resume_is_bit_exact(dtype, tmp_path, tmp_path_factory):
    cfg, ref = reference_run(dtype, tmp_path_factory)
    out = tmp_path / "run"
    proc = spawn(cfg, out)
    wait_for_checkpoint(proc, out)
    wait_for(proc, lambda: logged_past(out, 12))  # so that records after the checkpoint exist
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    killed_at = max(s for s, _ in records(out, "train"))
    assert killed_at < 240
    err = resume(cfg, out)
    print(err)  # e.g. "resuming from .../last.npz at step 10; dropped 3 metrics record(s) ..."
    assert_same_as_reference(out, ref)
    assert not (out / "train.lock").exists()
    assert len(list((out / "checkpoints").glob("step-*.npz"))) == 2  # keep_checkpoints


@pytest.mark.parametrize("sig, code, twice", [(signal.SIGTERM, 143, False),
                                              (signal.SIGINT, 130, False),
                                              (signal.SIGINT, 130, True)])
def test_signal_checkpoints_and_exits(tmp_path, tmp_path_factory, sig, code, twice):
    cfg, ref = reference_run("float32", tmp_path_factory)
    out = tmp_path / "run"
    proc = spawn(cfg, out)
    wait_for_checkpoint(proc, out)
    proc.send_signal(sig)
    if twice:
        time.sleep(0.002)
        proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert "Traceback" not in err
    if not twice:
        name = "SIGTERM" if sig == signal.SIGTERM else "SIGINT"
        assert f"stopped by {name} after step" in err and "--resume" in err
        stopped = max(s for s, _ in records(out, "train"))
        assert load_checkpoint(out / "checkpoints" / "last.npz")[1]["step"] == stopped
    # Whatever the timing of the second signal, every file is whole and nothing is left over.
    for f in (out / "checkpoints").iterdir():
        assert not f.name.startswith("."), f
        load_checkpoint(f)
    assert not (out / "train.lock").exists()
    resume(cfg, out)
    assert_same_as_reference(out, ref)


def test_an_error_raised_while_unwinding_a_ctrl_c_still_exits_130(capsys):
    """The CI race behind the test above: the second Ctrl-C lands inside np.savez's zipfile
    `with`, whose close then raises ValueError; that is still the interrupt, not a traceback."""
    import typer

    from rnnlm.cli.app import user_errors

    @user_errors
    def command():
        try:
            raise KeyboardInterrupt
        finally:
            raise ValueError("Can't close the ZIP file while there is an open writing handle")

    with pytest.raises(typer.Exit) as e:
        command()
    assert e.value.exit_code == 130
    assert capsys.readouterr().err.strip() == "rnnlm: interrupted"

    @user_errors
    def broken():  # an ordinary bug stays a bug: not hidden as an interrupt
        raise ValueError("a bug")

    with pytest.raises(ValueError):
        broken()
