"""Data sources (one corpus or train/valid/test files), paths relative to the config, the id cache,
eval refusing a file that changed, bits per character; each bad input one line, exit != 0."""

import json
import os
import time

import numpy as np
import pytest
from typer.testing import CliRunner

from rnnlm.cli import app
from rnnlm.config import load_config
from rnnlm.data.corpus import load_corpus
from rnnlm.data.reader import iter_blocks

LINES = ("to be or not to be that is the question\n", "whether tis nobler in the mind to suffer\n",
         "the slings and arrows of outrageous fortune\n")
TEXT = "".join(LINES) * 30
SMALL = ("model:\n  layers: 1\n  embed_size: 8\n  hidden_size: 16\ntrain:\n  batch_size: 4\n"
         "  bptt: 8\n  max_steps: 6\n  log_every: 3\n  eval_every: 3\n  sample_length: 0\n")


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def error_line(result):
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code != 0 and lines[-1].startswith("rnnlm: error: "), result.output
    assert "Traceback" not in result.output
    return lines[-1]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.delenv("RNNLM_CACHE_DIR", raising=False)
    return tmp_path


def write_split(folder):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train.txt").write_text(TEXT)
    (folder / "valid.txt").write_text("".join(LINES) * 3 + "an unseen word here\n")
    (folder / "test.txt").write_text("".join(reversed(LINES)) * 3)


def test_config_paths_are_relative_to_the_file(cache, monkeypatch):
    write_split(cache / "data")
    cfg_file = cache / "configs" / "w.yaml"
    cfg_file.parent.mkdir()
    cfg_file.write_text("data:\n  train: ../data/train.txt\n  valid: ../data/valid.txt\n  tokenizer: word\n")
    monkeypatch.chdir("/")
    cfg = load_config(cfg_file, ["data.test=" + str(cache / "data" / "test.txt")])
    assert cfg.data.train == str(cache / "data" / "train.txt") and cfg.data.valid == str(cache / "data" / "valid.txt")
    monkeypatch.chdir(cache / "data")
    assert load_config(cfg_file, ["data.test=test.txt"]).data.test == str(cache / "data" / "test.txt")  # --set: cwd


def test_separate_files_word_sizes_and_unknowns(cache):
    write_split(cache)
    cfg = load_config(None, [f"data.train={cache}/train.txt", f"data.valid={cache}/valid.txt",
                             f"data.test={cache}/test.txt", "data.tokenizer=word"])
    corpus = load_corpus(cfg.data)
    tok = corpus.tokenizer
    assert "unseen" not in tok.words  # learned from the train file only
    assert corpus.sizes["valid"]["unknown"] == 4  # an, unseen, word, here
    assert corpus.sizes["valid"]["chars"] == len((cache / "valid.txt").read_text())
    assert corpus.sizes["train"]["tokens"] == len(corpus.train) == len(TEXT.split()) + 90  # + <eos> per line
    assert tok.decode(corpus.test[:9]) == LINES[2].strip() + "\n" + LINES[1].split()[0]
    assert isinstance(corpus.train, np.memmap) and corpus.train.dtype == np.uint16


def test_fractions_word_learns_from_train_part_only(cache):
    (cache / "c.txt").write_text(TEXT + "zebra zebra zebra\n" * 10)
    cfg = load_config(None, [f"data.corpus={cache}/c.txt", "data.tokenizer=word", "data.valid_fraction=0.1"])
    corpus = load_corpus(cfg.data)
    assert "zebra" not in corpus.tokenizer.words and corpus.sizes["test"]["unknown"] == 30  # the last lines
    total = sum(corpus.sizes[s]["chars"] for s in ("train", "valid", "test"))
    assert total == len((cache / "c.txt").read_text())


def test_blocks_cut_at_line_ends_give_the_same_ids(cache):
    p = cache / "c.txt"
    p.write_text("\ufeffab\r\ncd é\rlast line, no newline" * 50)
    whole = "".join(iter_blocks(p, False))
    assert whole == "".join(iter_blocks(p, False, block_bytes=7)) == p.read_text()[1:].replace("\r\n", "\n").replace("\r", "\n")
    raw = b"".join(iter_blocks(p, True, block_bytes=5))
    assert raw == p.read_bytes()
    with pytest.raises(Exception, match="not valid UTF-8 at byte offset 1003"):
        (cache / "bad.txt").write_bytes(b"a" * 1003 + b"\xff\n")
        list(iter_blocks(cache / "bad.txt", False, block_bytes=64))


def test_cache_is_reused_and_rebuilt_when_the_file_changes(cache, capsys):
    p = cache / "c.txt"
    p.write_text(TEXT)
    cfg = load_config(None, [f"data.corpus={p}"])
    first = load_corpus(cfg.data)
    files = sorted(os.listdir(cache / ".rnnlm-cache"))
    assert any(f.endswith(".ids") for f in files) and any(f.endswith(".vocab.json") for f in files)
    again = load_corpus(cfg.data, first.tokenizer)
    assert np.array_equal(again.train, first.train) and "changed" not in capsys.readouterr().err
    time.sleep(0.01)
    p.write_text(TEXT.replace("question", "answer!!"))  # same size, other content
    changed = load_corpus(cfg.data)
    err = capsys.readouterr().err
    assert "changed since its vocabulary was cached: building it again" in err
    assert "!" in changed.tokenizer.chars and changed.files["corpus"]["sha256"] != first.files["corpus"]["sha256"]
    assert sorted(os.listdir(cache / ".rnnlm-cache")) != files


def test_cache_dir_from_environment(cache, monkeypatch):
    monkeypatch.setenv("RNNLM_CACHE_DIR", str(cache / "elsewhere"))
    (cache / "c.txt").write_text(TEXT)
    load_corpus(load_config(None, [f"data.corpus={cache}/c.txt", "data.tokenizer=byte"]).data)
    assert not (cache / ".rnnlm-cache").exists() and any((cache / "elsewhere").iterdir())


def train(folder, config_text, *sets):
    cfg = folder / "cfg.yaml"
    cfg.write_text(config_text + SMALL)
    return run("train", cfg, "--out", folder / "run", "--no-progress", *sum((["--set", s] for s in sets), []))


def test_eval_scores_the_recorded_file_and_refuses_a_changed_one(cache, monkeypatch):
    home = cache / "home"
    home.mkdir()
    (home / "mytext.txt").write_text(TEXT)
    monkeypatch.chdir(home)
    result = train(home, "data:\n  corpus: mytext.txt\n")
    assert result.exit_code == 0, result.output
    saved = (home / "run" / "config.yaml").read_text()
    assert f"corpus: {home / 'mytext.txt'}" in saved  # the absolute path
    with np.load(home / "run" / "checkpoints" / "last.npz", allow_pickle=False) as z:
        meta = json.loads(z["__meta__"].tobytes())
    fp = meta["data_files"]["corpus"]
    assert fp["path"] == str(home / "mytext.txt") and fp["size"] == len(TEXT) and len(fp["sha256"]) == 64
    here = run("eval", home / "run", "--split", "valid", "--json")
    assert here.exit_code == 0, here.output
    # another directory holding another mytext.txt: the run's own file is scored, not that one
    other = cache / "other"
    other.mkdir()
    (other / "mytext.txt").write_text("".join(reversed(LINES)) * 9)  # another text, same letters
    monkeypatch.chdir(other)
    there = run("eval", home / "run", "--split", "valid", "--json")
    assert there.exit_code == 0 and json.loads(there.output) == json.loads(here.output)
    monkeypatch.chdir("/tmp")
    assert run("eval", home / "run", "--split", "test").exit_code == 0
    # the trained-on file replaced: refused, one line
    (home / "mytext.txt").write_text(TEXT.upper())
    line = error_line(run("eval", home / "run", "--split", "valid"))
    assert str(home / "mytext.txt") in line and "not the corpus file this run was trained on" in line
    (home / "mytext.txt").unlink()
    assert "is gone" in error_line(run("eval", home / "run", "--split", "test"))
    assert run("eval", home / "run", "--text", other / "mytext.txt").exit_code == 0  # --text still works


def test_old_run_without_fingerprint(monkeypatch):
    old = os.path.join(os.path.dirname(__file__), "data", "run-0.1.0")
    monkeypatch.chdir(old)
    line = error_line(run("eval", old, "--split", "valid"))
    assert "older rnnlm" in line and "--text" in line
    result = run("eval", old, "--text", "tiny.txt", "--json")
    assert result.exit_code == 0 and "bits_per_char" in json.loads(result.output)


def test_word_run_reports_bits_per_char_and_unknowns(cache):
    write_split(cache)
    result = train(cache, "data:\n  train: train.txt\n  valid: valid.txt\n  tokenizer: word\n")
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in (cache / "run" / "metrics.jsonl").read_text().splitlines()]
    ev = [r for r in records if r["kind"] == "eval"][-1]
    tokens = len((cache / "valid.txt").read_text().split()) + 10
    chars = len((cache / "valid.txt").read_text())
    assert ev["valid_bits_per_char"] == pytest.approx(ev["valid_bits_per_token"] * tokens / chars)
    out = run("eval", cache / "run", "--split", "valid")
    assert out.exit_code == 0 and "bits/char" in out.output and "4 unknown token(s)" in out.output
    assert "no test file" in error_line(run("eval", cache / "run", "--split", "test"))


@pytest.mark.parametrize("config, sets, words", [
    ("data:\n  train: train.txt\n", (), "'data.train' is set but 'data.valid' is not"),
    ("data:\n  corpus: train.txt\n  tokenizer: word\n", ("data.vocab_size=2",), "too small for the word tokenizer"),
    ("data:\n  corpus: train.txt\n  tokenizer: bpe\n", ("data.vocab_size=100000",), "supports only"),
    ("data:\n  corpus: train.txt\n  tokenizer: bpe\n", (), "above 256"),
    ("data:\n  train: train.txt\n  valid: nope.txt\n", (), "valid file"),
])
def test_bad_data_settings_one_line(cache, config, sets, words):
    write_split(cache)
    assert words in error_line(train(cache, config, *sets))
