"""The commands end to end through typer's test runner: train a few steps, then sample, eval,
inspect and gradcheck; and the one-line errors for bad input."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from rnnlm.cli import app

TEXT = ("To be, or not to be, that is the question:\n"
        "Whether 'tis nobler in the mind to suffer\n"
        "The slings and arrows of outrageous fortune,\n") * 12


def run(*args):
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    corpus = d / "text.txt"
    corpus.write_text(TEXT)
    cfg = d / "cfg.yaml"
    cfg.write_text(f"data:\n  corpus: {corpus}\nmodel:\n  cell: gru\n  layers: 2\n"
                   "  embed_size: 8\n  hidden_size: 16\ntrain:\n  batch_size: 4\n  bptt: 10\n"
                   "  max_steps: 12\n  log_every: 3\n  eval_every: 6\n  sample_length: 20\n")
    out = d / "run"
    result = run("train", cfg, "--out", out, "--no-progress", "--set", "optim.lr=3e-3")
    assert result.exit_code == 0, result.output
    return d, out, cfg


def test_train_writes_the_run(trained):
    _, out, _ = trained
    assert (out / "config.yaml").is_file()
    assert (out / "checkpoints" / "last.npz").is_file()
    assert (out / "checkpoints" / "best.npz").is_file()
    with np.load(out / "checkpoints" / "last.npz", allow_pickle=False) as z:
        assert z["rnn.1.W_h"].shape == (16, 48)  # parameters under the names the README gives
        assert z["rnn.0.b_hn"].shape == (16,)
        assert z["embed.W"].shape[1] == 8 and z["head.b"].shape == z["embed.W"].shape[:1]
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in records if r["kind"] == "train"]
    assert [r["step"] for r in train] == [3, 6, 9, 12]
    r = train[-1]
    for key in ("tokens", "loss", "bits_per_token", "lr", "grad_norm", "grad_norm_clipped",
                "clipped", "tokens_per_s", "step_norms"):
        assert key in r
    assert len(r["step_norms"]) == 2 and len(r["step_norms"][0]) == 10  # layers × T
    assert r["bits_per_token"] == pytest.approx(r["loss"] / np.log(2))
    assert "optim:\n  name: adam\n  lr: 0.003" in (out / "config.yaml").read_text()
    evals = [r for r in records if r["kind"] == "eval"]
    assert [r["step"] for r in evals] == [6, 12]
    assert all(r["valid_perplexity"] == pytest.approx(np.exp(r["valid_loss"])) for r in evals)


def test_sample_is_reproducible(trained):
    _, out, _ = trained
    a = run("sample", out, "--length", 40, "--seed", 7, "--prompt", "To be")
    b = run("sample", out, "--length", 40, "--seed", 7, "--prompt", "To be")
    c = run("sample", out, "--length", 40, "--seed", 8, "--prompt", "To be")
    assert a.exit_code == 0, a.output
    assert a.stdout == b.stdout and a.stdout.startswith("To be")
    assert len(a.stdout.rstrip("\n")) == len("To be") + 40
    assert a.stdout != c.stdout
    greedy = run("sample", out, "--length", 20, "--temperature", 0, "--top-k", 3)
    assert greedy.exit_code == 0


def test_eval_json(trained, tmp_path):
    _, out, _ = trained
    r = run("eval", out, "--split", "valid", "--json")
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)
    assert res["perplexity"] == pytest.approx(np.exp(res["loss"]))
    text = tmp_path / "other.txt"
    text.write_text("To be or not to be\n")
    r = run("eval", out, "--text", text, "--json", "--streams", 1)
    assert r.exit_code == 0 and json.loads(r.stdout)["tokens"] == len("To be or not to be\n") - 1
    assert json.loads(r.stdout)["streams"] == 1 and json.loads(r.stdout)["bptt"] == 10


def test_inspect_json(trained):
    _, out, _ = trained
    r = run("inspect", out, "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)  # an object, nothing else on stdout


@pytest.mark.parametrize("cell", ["rnn_tanh", "rnn_relu", "gru", "lstm"])
def test_gradcheck_command(cell):
    r = run("gradcheck", "--set", f"model.cell={cell}", "--set", "model.layers=2", "--json")
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)
    assert res["passed"] and res["worst"] < 1e-6 and res["cell"] == cell


def _one_line_error(result, *needles):
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    err = result.stderr.strip()
    assert err.count("\n") == 0, err
    for n in needles:
        assert n in err, err


def test_bad_input(trained, tmp_path):
    d, out, cfg = trained
    _one_line_error(run("train", tmp_path / "nope.yaml"), "not found")
    bad = tmp_path / "bad.yaml"
    bad.write_text("optim:\n  learning_rate: 0.1\n")
    _one_line_error(run("train", bad, "--out", tmp_path / "r"), "optim.learning_rate", "optim.lr")
    bad.write_text("model:\n  hidden_size: lots\n")
    _one_line_error(run("train", bad, "--out", tmp_path / "r"), "model.hidden_size")
    _one_line_error(run("train", cfg, "--out", tmp_path / "r", "--set",
                        f"data.corpus={tmp_path / 'missing.txt'}"), "missing.txt")
    for cmd in ("sample", "eval", "inspect"):
        _one_line_error(run(cmd, tmp_path / "no-such-run"), "does not exist")
