"""`rnnlm eval`: per-token output, a text read through the id cache (any size), and its figures."""

import json
import math
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from rnnlm.cli import app
from rnnlm.infer.data import file_text
from rnnlm.infer.load import load_run
from tests.test_compat import OLD


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture
def old(tmp_path):
    shutil.copytree(OLD, tmp_path / "run")
    return tmp_path / "run", tmp_path / "run" / "tiny.txt"


def test_per_token_lines_add_up_to_the_loss(old, tmp_path):
    run_dir, text = old
    out = tmp_path / "tokens.jsonl"
    r = run("eval", run_dir, "--text", text, "--per-token", out, "--bptt", 100, "--json")
    assert r.exit_code == 0, r.output
    result = json.loads(r.stdout)
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == result["tokens"] and lines[0]["position"] == 1
    assert [x["position"] for x in lines] == list(range(1, len(lines) + 1))
    assert -sum(x["logprob"] for x in lines) / len(lines) == pytest.approx(result["loss"], rel=1e-6)
    assert result["perplexity"] == pytest.approx(math.exp(result["loss"]))
    assert result["bits_per_token"] == pytest.approx(result["loss"] / math.log(2))
    ids = load_run(run_dir).tokenizer.encode(text.read_text())
    assert [x["id"] for x in lines] == ids[1:].tolist()
    # the same figures as without --per-token, scored as one stream
    plain = json.loads(run("eval", run_dir, "--text", text, "--streams", 1, "--bptt", 100,
                           "--json").stdout)
    assert plain["loss"] == pytest.approx(result["loss"], rel=1e-6)


def test_per_token_never_overwrites(old, tmp_path):
    run_dir, text = old
    (tmp_path / "mine.txt").write_text("keep me")
    r = run("eval", run_dir, "--text", text, "--per-token", tmp_path / "mine.txt")
    assert r.exit_code != 0 and "already exists" in r.stderr
    assert (tmp_path / "mine.txt").read_text() == "keep me"
    r = run("eval", run_dir, "--text", text, "--per-token", tmp_path / "x.jsonl", "--streams", 4)
    assert r.exit_code != 0 and "--per-token" in r.stderr and not (tmp_path / "x.jsonl").exists()


def test_text_is_read_through_a_memory_map(old):
    run_dir, text = old
    ids, size, _ = file_text(load_run(run_dir), text)
    assert isinstance(ids, np.memmap) and size["chars"] == len(text.read_text())
    again, _, _ = file_text(load_run(run_dir), text)  # from the cache the second time
    assert np.array_equal(np.asarray(ids), np.asarray(again))
