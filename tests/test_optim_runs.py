"""Optimizers and schedules inside real runs: `rnnlm train ... --resume` continues bit for bit
(adagrad, rmsprop, NT-ASGD before and after its switch, a plateau schedule between two of its
reductions); NT-ASGD's averaged weights are the model that is evaluated and checkpointed;
train.early_stop ends a run with a line saying why; runs trained by the former `adam` with
weight decay resume only as adamw; configs/char-rnn.yaml trains."""

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from rnnlm.cli import app
import yaml

from rnnlm.config import load_config
from rnnlm.config.load import apply_overrides, config_from_dict
from rnnlm.errors import CheckpointError
from rnnlm.infer.evaluate import evaluate_streams
from rnnlm.infer.load import load_run
from rnnlm.run.checkpoint import load_checkpoint, param_arrays, split_arrays
from rnnlm.run.checkpoints import check_compatible
from rnnlm.train.setup import setup
from rnnlm.train.validate import validation_loss

ROOT = Path(__file__).resolve().parents[1]
WORDS = "the quick brown fox jumps over a lazy dog while cats sit on warm mats".split()


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A tiny config whose validation text is the words spelled backwards: validation improves
    at first, then worsens as the model learns the training text, so NT-ASGD switches and
    plateau divides within 60 steps."""
    d = tmp_path_factory.mktemp("optim-runs")
    rng = np.random.default_rng(0)
    train = " ".join(rng.choice(WORDS, 170))
    tail = " ".join(w[::-1] for w in rng.choice(WORDS, 40))
    (d / "corpus.txt").write_text(train + " " + tail + "\n")
    cfg = d / "base.yaml"
    cfg.write_text(f"data: {{corpus: {d / 'corpus.txt'}, valid_fraction: 0.12, test_fraction: 0.02}}\n"
                   "model: {cell: lstm, layers: 1, embed_size: 8, hidden_size: 12}\n"
                   "train: {batch_size: 4, bptt: 8, max_steps: 60, log_every: 1, eval_every: 5,\n"
                   "        sample_length: 0, keep_checkpoints: 2}\n")
    return cfg


def train(cfg, out, *args):
    r = CliRunner().invoke(app, ["train", str(cfg), "--out", str(out), "--no-progress", *args])
    assert r.exit_code == 0, r.output
    return r.output


def sets(overrides):
    return [a for kv in overrides for a in ("--set", kv)]


def records(run, kind):
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in r.items() if k not in ("tokens_per_s", "seconds", "cpu_seconds")}
            for r in map(json.loads, lines) if r["kind"] == kind]


def noted(run, words):
    """Steps whose eval record carries a note containing `words`."""
    return [r["step"] for r in records(run, "eval") if any(words in n for n in r.get("notes", []))]


CASES = {  # name: (overrides, resume after step, note that must appear before / after it)
    "adagrad": (["optim.name=adagrad", "optim.lr=0.1"], 30, None),
    "rmsprop": (["optim.name=rmsprop", "optim.lr=0.01"], 30, None),
    "ntasgd-averaging": (["optim.name=ntasgd", "optim.lr=1.0", "optim.nonmono=1"], 45, ("NT-ASGD", "before")),
    "ntasgd-switch-after": (["optim.name=ntasgd", "optim.lr=1.0", "optim.nonmono=1"], 35, ("NT-ASGD", "after")),
    "plateau": (["optim.schedule=plateau", "optim.lr=0.05", "optim.factor=4", "optim.patience=2"],
                25, ("plateau", "both")),
}


@pytest.mark.parametrize("case", list(CASES))
def test_resume_is_bit_exact(case, base, tmp_path):
    overrides, cut, note = CASES[case]
    ref, run = tmp_path / "ref", tmp_path / "run"
    train(base, ref, *sets(overrides))
    train(base, run, *sets(overrides + [f"train.max_steps={cut}"]))
    out = train(base, run, "--resume", *sets(overrides))
    assert "resuming from" in out and f"at step {cut}" in out
    assert records(run, "train") == records(ref, "train")
    assert records(run, "eval") == records(ref, "eval")
    for name in ("last.npz", "best.npz"):  # parameters, optimizer and schedule state, counters
        a, meta_a = load_checkpoint(run / "checkpoints" / name)
        b, meta_b = load_checkpoint(ref / "checkpoints" / name)
        for meta in (meta_a, meta_b):  # a best.npz from before the cut says max_steps 25
            del meta["config"]["train"]["max_steps"]
            del meta["seconds"], meta["cpu_seconds"]  # the time spent differs, of course
        assert meta_a == meta_b and a.keys() == b.keys()
        assert all(np.array_equal(a[k], b[k]) and a[k].dtype == b[k].dtype for k in a)
    if note:  # the state that matters was live across the cut
        words, when = note
        steps = noted(ref, words)
        assert steps, f"no {words} note in the reference run"
        if when in ("before", "both"):
            assert min(steps) <= cut
        if when in ("after", "both"):
            assert max(steps) > cut


def test_ntasgd_evaluates_and_checkpoints_the_average(base, tmp_path):
    run = tmp_path / "run"
    train(base, run, *sets(["optim.name=ntasgd", "optim.lr=1.0", "optim.nonmono=1"]))
    switched = noted(run, "NT-ASGD")
    assert len(switched) == 1 and switched[0] < 60
    arrays, meta = load_checkpoint(run / "checkpoints" / "last.npz")
    model, raw, avg = param_arrays(arrays), split_arrays(arrays, "raw"), split_arrays(arrays, "optim")
    assert int(avg["count"]) == 60 - switched[0]
    for k in model:  # the model is the average; training continues from the raw weights
        np.testing.assert_array_equal(model[k], avg[f"average.{k}"])
        assert not np.array_equal(model[k], raw[k])
    np.testing.assert_array_equal(load_run(run, "last").params["head.W"], model["head.W"])
    last = records(run, "eval")[-1]["valid_loss"]
    # (one step more than the run took, so that a resume is allowed: nothing is trained here)
    resumed = setup(load_config(base, ["optim.name=ntasgd", "optim.lr=1.0", "optim.nonmono=1",
                                       "train.max_steps=61"]), run, resume=True)
    np.testing.assert_array_equal(resumed.params["head.W"], raw["head.W"])
    assert validation_loss(resumed) == last
    spec, bptt = resumed.spec, resumed.cfg.train.bptt
    assert evaluate_streams(model, spec, resumed.valid, bptt)[0] == last
    assert evaluate_streams(raw, spec, resumed.valid, bptt)[0] != last


def test_early_stop_ends_the_run_with_a_reason(base, tmp_path):
    run = tmp_path / "run"
    out = train(base, run, *sets(["optim.name=adagrad", "optim.lr=0.1", "train.early_stop=3"]))
    evals = records(run, "eval")
    best = [r["step"] for r in evals if r["best"]]
    # stop at the third evaluation in a row without a new best
    assert [r["step"] for r in evals][-1] == best[-1] + 15 < 60
    assert f"early stop after step {best[-1] + 15}" in out and "train.early_stop=3" in out
    assert max(r["step"] for r in records(run, "train")) == best[-1] + 15


def test_former_adam_with_weight_decay_resumes_only_as_adamw():
    saved = yaml.safe_load((ROOT / "tests/data/run-0.1.0/config.yaml").read_text())
    saved["optim"]["weight_decay"] = 0.01  # as written before adamw existed: no optim.nesterov
    now = config_from_dict(saved)  # the same file read today: optim.name adam
    with pytest.raises(CheckpointError, match="now called 'adamw'.*--set optim.name=adamw"):
        check_compatible(now, {"config": saved}, "last.npz")
    check_compatible(apply_overrides(now, ["optim.name=adamw"]), {"config": saved}, "last.npz")
    saved["optim"]["weight_decay"] = 0.0  # without decay the two are the same update: adam
    check_compatible(config_from_dict(saved), {"config": saved}, "last.npz")
    with pytest.raises(CheckpointError, match="'optim.name'"):
        check_compatible(apply_overrides(now, ["optim.name=adamw"]), {"config": saved}, "last.npz")


def test_char_rnn_config_trains_20_steps(tmp_path):
    rng = np.random.default_rng(1)
    text = "\n".join(" ".join(rng.choice(WORDS, 12)) for _ in range(400))  # ~25k characters
    (tmp_path / "text.txt").write_text(text)
    out = train(ROOT / "configs" / "char-rnn.yaml", tmp_path / "run",
                *sets([f"data.corpus={tmp_path / 'text.txt'}", "train.max_steps=20",
                       "train.log_every=5", "train.sample_length=20"]))
    assert "trained 20 steps" in out
    losses = [r["loss"] for r in records(tmp_path / "run", "train")]
    assert losses[-1] < losses[0]
