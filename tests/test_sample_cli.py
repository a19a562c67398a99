"""`rnnlm sample`'s generation options end to end, and its bad inputs (one line each)."""

import json
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from rnnlm.cli import app
from tests.test_compat import OLD


def run(*args, input=None):
    return CliRunner().invoke(app, [str(a) for a in args], input=input)


@pytest.fixture(scope="module")
def run64(tmp_path_factory):
    """A tiny float64 run (batched rows then equal single samples exactly)."""
    d = tmp_path_factory.mktemp("s")
    shutil.copy(OLD / "tiny.txt", d / "tiny.txt")
    r = run("train", "--corpus", d / "tiny.txt", "--out", d / "run", "--no-progress",
            "--set", "model.layers=1", "--set", "model.hidden_size=16", "--set", "model.embed_size=8",
            "--set", "train.dtype=float64", "--set", "train.max_steps=30", "--set", "train.eval_every=10",
            "--set", "train.batch_size=4", "--set", "train.bptt=16", "--set", "train.sample_length=0")
    assert r.exit_code == 0, r.output
    return d / "run"


def one_error(r, *words):
    assert r.exit_code not in (0, None) and "Traceback" not in r.output, r.output
    errors = [line for line in r.stderr.splitlines() if line.startswith("rnnlm: error:")]
    assert len(errors) == 1, r.stderr
    for w in words:
        assert w in errors[0], errors[0]


def samples(r):
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)["samples"]


def test_num_samples_rows_are_the_single_samples_of_seed_plus_i(run64):
    batch = samples(run("sample", run64, "--num-samples", 4, "--seed", 10, "--length", 40,
                        "--prompt", "the ", "--json"))
    assert [s["seed"] for s in batch] == [10, 11, 12, 13]
    for s in batch:
        (alone,) = samples(run("sample", run64, "--seed", s["seed"], "--length", 40,
                               "--prompt", "the ", "--json"))
        assert alone["ids"] == s["ids"] and alone["text"] == s["text"]
        assert len(s["token_logprobs"]) == len(s["ids"])
        assert s["logprob"] == pytest.approx(sum(s["token_logprobs"]))
    text = run("sample", run64, "--num-samples", 4, "--seed", 10, "--length", 40, "--prompt", "the ")
    assert text.exit_code == 0 and text.stdout.count("--- sample ") == 4
    assert batch[2]["text"] in text.stdout


def test_stop_string_ends_the_sample_before_it(run64):
    (full,) = samples(run("sample", run64, "--seed", 3, "--length", 60, "--json"))
    stop = full["text"][10:12]
    (cut,) = samples(run("sample", run64, "--seed", 3, "--length", 60, "--stop", stop, "--json"))
    assert cut["text"] == full["text"][:full["text"].index(stop)]
    streamed = run("sample", run64, "--seed", 3, "--length", 60, "--stop", stop)
    assert streamed.stdout == cut["text"] + "\n"


def test_beam_one_is_greedy_and_beam_five_at_least_as_likely(run64):
    (greedy,) = samples(run("sample", run64, "--temperature", 0, "--length", 20, "--prompt", "a",
                            "--json"))
    (b1,) = samples(run("sample", run64, "--beam", 1, "--length", 20, "--prompt", "a", "--json"))
    (b5,) = samples(run("sample", run64, "--beam", 5, "--length", 20, "--prompt", "a", "--json"))
    assert b1["ids"] == greedy["ids"]
    assert b5["logprob"] >= greedy["logprob"] - 1e-9


def test_checkpoint_path_and_prompt_file(run64, tmp_path):
    step = sorted((run64 / "checkpoints").glob("step-*.npz"))[0]
    for which in (step, step.name):
        r = run("sample", run64, "--checkpoint", which, "--length", 5, "--seed", 1)
        assert r.exit_code == 0 and step.name in r.stderr, r.output
    (tmp_path / "p.txt").write_text("the cat")
    r = run("sample", run64, "--prompt-file", tmp_path / "p.txt", "--length", 5, "--seed", 1)
    assert r.exit_code == 0 and r.stdout.startswith("the cat")


def test_interactive_loop_keeps_state_until_reset(run64):
    r = run("sample", run64, "--interactive", "--length", 10, "--seed", 2,
            input="the \nand \n/reset\nthe \n/quit\n")
    assert r.exit_code == 0, r.output
    assert len([line for line in r.stdout.splitlines() if line.strip()]) >= 3
    assert "state reset" in r.stderr


@pytest.mark.parametrize("args, words", [
    (("--length", -1), ["--length"]),
    (("--length", 10 ** 9), ["--length"]),
    (("--top-p", 1.5), ["--top-p"]),
    (("--top-p", 0), ["--top-p"]),
    (("--beam", 1000), ["--beam", "vocabulary"]),
    (("--checkpoint", "nope.npz"), ["--checkpoint", "not found"]),
    (("--prompt", "\u00e9"), ["--prompt"]),
    (("--stop", ""), ["--stop"]),
    (("--seed", -1), ["--seed"]),
    (("--num-samples", 0), ["--num-samples"]),
    (("--temperature", -0.5), ["--temperature"]),
    (("--beam", -2), ["--beam"]),
])
def test_bad_sample_options(run64, args, words):
    one_error(run("sample", run64, *args), *words)


def test_bad_checkpoint_file_and_empty_prompt_file(run64, tmp_path):
    (tmp_path / "not.npz").write_text("hello")
    one_error(run("sample", run64, "--checkpoint", tmp_path / "not.npz"), "not.npz")
    (tmp_path / "empty.txt").write_text("")
    one_error(run("sample", run64, "--prompt-file", tmp_path / "empty.txt"), "--prompt-file", "empty")


def test_word_model_spaces_words_after_the_prompt_and_maps_unknown_words(tmp_path):
    shutil.copy(OLD / "tiny.txt", tmp_path / "tiny.txt")
    r = run("train", "--corpus", tmp_path / "tiny.txt", "--out", tmp_path / "w", "--no-progress",
            "--set", "data.tokenizer=word", "--set", "model.hidden_size=8", "--set", "model.layers=1",
            "--set", "train.max_steps=5", "--set", "train.batch_size=4", "--set", "train.bptt=8",
            "--set", "train.sample_length=0")
    assert r.exit_code == 0, r.output
    (s,) = samples(run("sample", tmp_path / "w", "--prompt", "the zebra", "--length", 6,
                       "--seed", 1, "--json"))
    streamed = run("sample", tmp_path / "w", "--prompt", "the zebra", "--length", 6, "--seed", 1)
    assert streamed.exit_code == 0, streamed.output
    assert streamed.stdout == "the zebra" + s["text"] + "\n"
    texts = [samples(run("sample", tmp_path / "w", "--prompt", "the zebra", "--length", 6,
                         "--seed", seed, "--json"))[0]["text"] for seed in range(1, 6)]
    texts = [t for t in texts if t]  # a sample that drew <eos> first is empty
    assert texts and all(t.startswith(" ") for t in texts)  # a new word after the prompt's last
