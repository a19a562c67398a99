"""Every bad input, end to end through `rnnlm train`: one line on stderr naming the problem and
the fix, a non-zero exit code, no traceback, and nothing already written damaged."""

import errno
import os
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

import rnnlm.run.atomic
import rnnlm.run.checkpoint
import rnnlm.run.lock
from rnnlm.run.checkpoint import load_checkpoint
from rnnlm.cli import app

from hostile_npz import absurd_shape_npz, object_array_npz

TEXT = "It was the best of times, it was the worst of times.\n" * 6
MODEL = "model: {cell: lstm, layers: 1, embed_size: 8, hidden_size: 8}\n"
TRAIN = "train: {batch_size: 2, bptt: 8, max_steps: 10, eval_every: 10, sample_length: 0}\n"


def config(d, corpus="corpus.txt", extra="", model=MODEL, train=TRAIN):
    path = d / "cfg.yaml"
    path.write_text(f"data:\n  corpus: {d / corpus}\n{extra}{model}{train}")
    return path


def train(cfg, out, *extra):
    r = CliRunner().invoke(app, ["train", str(cfg), "--out", str(out), "--no-progress",
                                 *map(str, extra)])
    assert "Traceback" not in r.output
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    return r


def fails(r, *words):
    """Exit code != 0, exactly one error line, naming the problem (and the fix)."""
    assert r.exit_code not in (0, None), r.output
    errors = [line for line in r.stderr.splitlines() if line.startswith("rnnlm: error:")]
    assert len(errors) == 1, r.stderr
    for w in words:
        assert w in errors[0], errors[0]
    return errors[0]


@pytest.fixture
def d(tmp_path):
    (tmp_path / "corpus.txt").write_text(TEXT)
    return tmp_path


# ---------------------------------------------------------------- corpus
@pytest.mark.parametrize("name, content, words", [
    ("missing.txt", None, ("not found", "data.corpus")),
    ("empty.txt", b"", ("is empty",)),
    ("short.txt", b"too short\n", ("train.batch_size", "longer corpus")),
    ("latin1.txt", "café ".encode("latin-1") * 50, ("not valid UTF-8", "data.tokenizer=byte")),
    ("binary.bin", bytes(range(256)) * 4, ("looks binary", "data.tokenizer=byte")),
])
def test_bad_corpus(d, name, content, words):
    if content is not None:
        (d / name).write_bytes(content)
    fails(train(config(d, name), d / "run"), *words)
    assert not (d / "run" / "checkpoints" / "last.npz").exists()


def test_binary_corpus_trains_with_the_byte_tokenizer(d):
    (d / "binary.bin").write_bytes(bytes(np.random.default_rng(0).integers(0, 256, 600, np.uint8)))
    r = train(config(d, "binary.bin", extra="  tokenizer: byte\n"), d / "run")
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize("content", [b"\xef\xbb\xbf" + TEXT.encode(),
                                     TEXT.replace("\n", "\r\n").encode()])
def test_bom_and_crlf_are_normalised(d, content):
    (d / "odd.txt").write_bytes(content)
    r = train(config(d, "odd.txt"), d / "run")
    assert r.exit_code == 0, r.output
    chars = load_checkpoint(d / "run" / "checkpoints" / "last.npz")[1]["tokenizer"]["chars"]
    assert "\r" not in chars and "\ufeff" not in chars and "\n" in chars


# ---------------------------------------------------------------- config
@pytest.mark.parametrize("model, train_, words", [
    ("model: {cell: lstm, hiden_size: 8}\n", TRAIN, ("unknown config key 'model.hiden_size'",
                                                     "did you mean 'model.hidden_size'")),
    ("model: {cell: lstm, hidden_size: eight}\n", TRAIN, ("'model.hidden_size' must be an integer",)),
    ("model: {cell: lstm, hidden_size: 0}\n", TRAIN, ("'model.hidden_size' must be >= 1",)),
    (MODEL, "train: {batch_size: -2}\n", ("'train.batch_size' must be >= 1",)),
    (MODEL, "train: {bptt: 0}\n", ("'train.bptt' must be >= 1",)),
    (MODEL, "optim: {lr: .nan}\n", ("'optim.lr' is nan", "finite")),
    (MODEL, "optim: {lr: .inf}\n", ("'optim.lr' is inf", "finite")),
    ("model: {cell: lstm, dropout: 1.0}\n", TRAIN, ("'model.dropout' must be >= 0.0 and < 1.0",)),
    ("model: {cell: lstm, cell: gru}\n", TRAIN, ("duplicate config key 'model.cell'",)),
    ("model: {cell: lsmt}\n", TRAIN, ("did you mean 'lstm'",)),
])
def test_bad_config(d, model, train_, words):
    fails(train(config(d, model=model, train=train_), d / "run"), *words)
    assert not (d / "run").exists()


def test_bad_override_and_missing_config(d):
    fails(train(config(d), d / "run", "--set", "optim.lr=nan"), "'optim.lr' is nan")
    fails(train(d / "nope.yaml", d / "run"), "not found")


# ---------------------------------------------------------------- checkpoints on resume
@pytest.fixture
def run(d):
    cfg = config(d)
    assert train(cfg, d / "run").exit_code == 0
    return cfg, d / "run"


def only_checkpoint(run_dir, write):
    """Replace every checkpoint of the run by one bad last.npz; return metrics bytes before."""
    for f in (run_dir / "checkpoints").iterdir():
        f.unlink()
    write(run_dir / "checkpoints" / "last.npz")
    return (run_dir / "metrics.jsonl").read_bytes()


def truncated(path):
    path.write_bytes(b"PK\x03\x04" + b"\0" * 40)


def not_npz(path):
    path.write_text("hello, I am a text file\n")


def object_array(path):
    object_array_npz(path)


def absurd_shape(path):
    absurd_shape_npz(path)


@pytest.mark.parametrize("write, words", [(truncated, "corrupt"), (not_npz, "corrupt"),
                                          (object_array, "object array"),
                                          (absurd_shape, "absurd shape")])
def test_bad_checkpoint_on_resume(run, write, words):
    cfg, run_dir = run
    before = only_checkpoint(run_dir, write)
    r = train(cfg, run_dir, "--resume")
    fails(r, "no valid checkpoint", "nothing to resume from")
    assert words in r.stderr  # the warning line gives the reason
    assert (run_dir / "metrics.jsonl").read_bytes() == before


def test_resume_with_another_architecture(run):
    cfg, run_dir = run
    fails(train(cfg, run_dir, "--resume", "--set", "model.hidden_size=16"),
          "'model.hidden_size' is 16 but the run was trained with 8", "config.yaml")


def test_resume_with_another_vocabulary(run, d):
    cfg, run_dir = run
    (d / "corpus.txt").write_text(TEXT.replace("t", "ŧ"))
    fails(train(cfg, run_dir, "--resume", "--set", "train.max_steps=20"),
          "--resume", "not in the vocabulary", "own corpus")


def test_another_optimizer_on_resume(run):
    cfg, run_dir = run
    fails(train(cfg, run_dir, "--resume", "--set", "optim.name=sgd"), "'optim.name'")


# ---------------------------------------------------------------- the file system
@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores permissions (simulated below)")
def test_read_only_run_dir(run):
    cfg, run_dir = run
    before = (run_dir / "metrics.jsonl").read_bytes()
    os.chmod(run_dir, 0o555)
    try:
        fails(train(cfg, run_dir, "--resume", "--set", "train.max_steps=20"),
              "cannot write to run directory", "permissions")
    finally:
        os.chmod(run_dir, 0o755)
    assert (run_dir / "metrics.jsonl").read_bytes() == before


def test_read_only_run_dir_simulated(run, monkeypatch):
    cfg, run_dir = run
    before = (run_dir / "metrics.jsonl").read_bytes()
    real_open = os.open

    def read_only(path, flags, *args, **kwargs):
        if str(path).startswith(str(run_dir)) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)
    monkeypatch.setattr(rnnlm.run.lock.os, "open", read_only)
    fails(train(cfg, run_dir, "--resume", "--set", "train.max_steps=20"),
          "cannot write to run directory", "Permission denied", "permissions")
    assert (run_dir / "metrics.jsonl").read_bytes() == before


def test_disk_full_during_checkpoint(run, monkeypatch):
    cfg, run_dir = run
    ck = run_dir / "checkpoints"
    last_before = (ck / "last.npz").read_bytes()

    class FullDisk:
        def __init__(self, f):
            self.f = f

        def write(self, data):
            self.f.write(data[:100])  # part of it fits, then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device")

        def __getattr__(self, name):
            return getattr(self.f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    def full_for_checkpoints(p, m):  # config.yaml goes through the same writer: it still fits
        return FullDisk(open(p, m)) if ".npz" in os.fspath(p) else open(p, m)

    monkeypatch.setattr(rnnlm.run.atomic, "open", full_for_checkpoints, raising=False)
    r = train(cfg, run_dir, "--resume", "--set", "train.max_steps=20")
    fails(r, "cannot write", "No space left on device", "free disk space", "--resume")
    assert (ck / "last.npz").read_bytes() == last_before  # the previous checkpoint is intact
    assert load_checkpoint(ck / "last.npz")[1]["step"] == 10
    assert not [f for f in ck.iterdir() if f.name.startswith(".")]  # no temporary left over
    assert not (run_dir / "train.lock").exists()
    monkeypatch.undo()
    assert train(cfg, run_dir, "--resume", "--set", "train.max_steps=20").exit_code == 0
