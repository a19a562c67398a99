"""train.max_minutes: a run stops on time with a last evaluation and checkpoint; the time spent
is in every metrics record and in the checkpoint, and a resumed run counts it."""

import json

import numpy as np
from typer.testing import CliRunner

from rnnlm.cli import app
from rnnlm.run.checkpoint import load_checkpoint

runner = CliRunner()


def make_config(d):
    rng = np.random.default_rng(0)
    words = "a cat sat on the mat while the dog ran".split()
    (d / "corpus.txt").write_text(" ".join(rng.choice(words, 400)) + "\n")
    cfg = d / "cfg.yaml"
    cfg.write_text(f"data: {{corpus: {d / 'corpus.txt'}, valid_fraction: 0.1}}\n"
                   "model: {cell: gru, layers: 1, embed_size: 8, hidden_size: 8}\n"
                   "train: {batch_size: 2, bptt: 8, max_steps: 100000, log_every: 5, "
                   "eval_every: 1000, sample_length: 0}\n")
    return cfg


def records(run):
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def train(cfg, out, *extra):
    return runner.invoke(app, ["train", str(cfg), "--out", str(out), "--no-progress", *extra])


def test_stops_on_time_with_an_evaluation_and_a_checkpoint(tmp_path):
    cfg, out = make_config(tmp_path), tmp_path / "run"
    res = train(cfg, out, "--set", "train.max_minutes=0.01")
    assert res.exit_code == 0, res.output
    assert "train.max_minutes=0.01 reached" in res.output
    recs = records(out)
    last_step = recs[-1]["step"]
    assert 1 <= last_step < 100000
    assert recs[-1]["kind"] == "eval"  # the last step is logged and evaluated
    assert (recs[-2]["kind"], recs[-2]["step"]) == ("train", last_step)
    assert recs[-1]["seconds"] >= 0.6  # 0.01 minutes
    times = [r["seconds"] for r in recs]
    cpu = [r["cpu_seconds"] for r in recs]
    assert times == sorted(times) and cpu == sorted(cpu) and cpu[-1] > 0
    _, meta = load_checkpoint(out / "checkpoints" / "last.npz")
    assert meta["step"] == last_step and meta["seconds"] >= recs[-1]["seconds"] - 1e-3  # records round to ms


def test_resume_counts_the_time_already_spent(tmp_path):
    cfg, out = make_config(tmp_path), tmp_path / "run"
    assert train(cfg, out, "--set", "train.max_minutes=0.01").exit_code == 0
    _, meta = load_checkpoint(out / "checkpoints" / "last.npz")
    spent = meta["seconds"]

    again = train(cfg, out, "--resume", "--set", "train.max_minutes=0.01")
    assert again.exit_code != 0
    assert "nothing more to train" in again.output and "train.max_minutes=M" in again.output
    assert "Traceback" not in again.output

    more = train(cfg, out, "--resume", "--set", "train.max_minutes=0.02")
    assert more.exit_code == 0, more.output
    after = [r for r in records(out) if r["step"] > meta["step"]]
    assert after and min(r["seconds"] for r in after) > spent  # the clock went on, not from 0
    assert after[-1]["seconds"] >= 1.2


def test_max_minutes_must_not_be_negative(tmp_path):
    cfg = make_config(tmp_path)
    res = train(cfg, tmp_path / "run", "--set", "train.max_minutes=-1")
    assert res.exit_code != 0 and "train.max_minutes" in res.output
    assert not (tmp_path / "run").exists()


def test_zero_is_off(tmp_path):
    cfg = make_config(tmp_path)
    out = tmp_path / "run"
    res = train(cfg, out, "--set", "train.max_minutes=0", "--set", "train.max_steps=12")
    assert res.exit_code == 0, res.output
    assert records(out)[-1]["step"] == 12


def test_the_progress_bar_shows_the_minutes_spent_of_the_budget(tmp_path):
    cfg, out = make_config(tmp_path), tmp_path / "run"
    res = runner.invoke(app, ["train", str(cfg), "--out", str(out), "--progress",
                              "--set", "train.max_minutes=0.01"])
    assert res.exit_code == 0, res.output
    assert "min=0.0/0.01" in res.output or "min=0.1/0.01" in res.output, res.output
