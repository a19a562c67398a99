"""`rnnlm bench`: the JSON it prints, the flop and memory formulas, and its one-line errors.

Fast on purpose (no timing is asserted: speed lives in the benchmark, never in a test); the
PyTorch comparison runs only where torch is installed.
"""

import importlib.util
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from rnnlm import bench, model
from rnnlm.cli import app
from rnnlm.nn.cells import get_cell

KEYS = ("config", "threads", "train_tokens_per_s", "ratio", "gflops", "peak_gflops",
        "peak_share", "peak_mib", "bptt_mib")
HAS_TORCH = importlib.util.find_spec("torch") is not None


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def one_line_error(result, *needles):
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    err = result.stderr.strip()
    assert err.count("\n") == 0, err
    for n in needles:
        assert n in err, err


def test_flops_by_hand():
    # default: LSTM (k = 4), V 65, D 64, H 256, 2 layers, B 32, T 64: N = 2048 tokens.
    forward = 2048 * ((64 + 256) * 1024 + (256 + 256) * 1024 + 256 * 65)
    assert bench.multiply_adds("default", folded=False) == 3 * forward == 5_336_727_552
    assert bench.step_flops("default", folded=False) == 6 * forward
    # as rnnlm computes it: V 65 · 4 <= N, the embedding folds into layer 0, whose input
    # products are (65, 64) @ (64, 1024) and its two gradients
    assert bench.folds("default") and not bench.folds("b")
    folded = 2048 * (256 * 1024 + (256 + 256) * 1024 + 256 * 65) + 65 * 64 * 1024
    assert bench.multiply_adds("default") == 3 * folded == 4_946_853_888
    assert bench.step_flops("b") == bench.step_flops("b", folded=False)


def test_flops_of_a_tiny_gru(monkeypatch):
    # V 7, D 3, H 5, 2 layers, B 2, T 4, k = 3: per token (3+5)·15 + (5+5)·15 + 5·7 = 305.
    monkeypatch.setitem(bench.CONFIGS, "tiny", ("gru", 7, 3, 5, 2, 2, 4))
    assert bench.multiply_adds("tiny") == 3 * 8 * 305
    assert bench.bptt_bytes("tiny", activations_only=True) == 4 * 8 * (3 + 2 * 5 * 5 + 7)
    # with the gradients: P = 7·3 (embedding) + (3+5+1)·15 + 5 + (5+5+1)·15 + 5 (GRU, b_hn)
    # + 5·7 + 7 (head)
    assert bench.param_count("tiny") == 21 + 140 + 170 + 42
    assert bench.bptt_bytes("tiny") == 4 * (8 * (3 + 2 * 5 * 5 + 7) + 373)


@pytest.mark.parametrize("cell", ["rnn_tanh", "gru", "lstm"])
def test_bptt_bytes_is_what_the_forward_pass_keeps(cell, monkeypatch):
    """Every float array the forward pass leaves for backward, each counted once, plus the softmax
    (the size of the logits): the formula in bench.bptt_bytes counts exactly that."""
    V, D, H, L, B, T = 11, 4, 6, 2, 3, 5
    monkeypatch.setitem(bench.CONFIGS, "tiny", (cell, V, D, H, L, B, T))
    spec = model.ModelSpec(cell, V, D, H, L)
    rng = np.random.default_rng(0)
    params = model.init_params(spec, rng, np.float32)
    state = model.zero_state(spec, B, np.float32)
    x = rng.integers(0, V, (B, T))
    logits, _, cache = model.forward(params, spec, x, state)
    ignore = {id(a) for a in params.values()} | {id(a) for s in state for a in s}
    seen = {}

    def walk(obj):
        if isinstance(obj, (tuple, list)):
            for o in obj:
                walk(o)
        elif isinstance(obj, np.ndarray) and obj.dtype == np.float32 and id(obj) not in ignore:
            base = obj
            while base.base is not None and isinstance(base.base, np.ndarray):
                base = base.base
            seen[id(base)] = base.nbytes
    walk(cache)
    # the cells also copy the carried-in state (B, H each) into their buffers, beside h_1..h_T
    carried = 4 * L * len(get_cell(cell).state) * B * H
    assert sum(seen.values()) + logits.nbytes == bench.bptt_bytes("tiny", True) + carried


@pytest.mark.parametrize("name", ["d-rnn", "default"])
def test_a_step_holds_at_most_1_2_times_what_bptt_keeps(name):
    """The issue's memory target, on the two small char configs (tracemalloc counts what numpy
    allocates, and MKL's packed copies for the pages they write, so this is not a timing): the
    backward frees its packed W_hᵀ before the weight-gradient products allocate (d-rnn was 1.28x
    with it held)."""
    assert bench.peak_step_memory(name) <= 1.2 * bench.bptt_bytes(name)


def test_bench_json_keys_and_probe():
    r = run("bench", "--configs", "d-rnn", "--threads", "1", "--seconds", 0, "--rounds", 1,
            "--probe", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    (res,) = out["results"]
    for k in KEYS:
        assert k in res, k
    from rnnlm import fused, mkl
    assert out["mkl"] == mkl.available() and out["numba"] == fused.available()  # the paths timed
    assert res["config"] == "d-rnn" and res["threads"] == 1 and res["ratio"] is None
    assert res["train_tokens_per_s"] > 0 and res["gflops"] > 0 and res["peak_gflops"] > 0
    assert res["peak_share"] == pytest.approx(res["gflops"] / res["peak_gflops"])
    assert res["bptt_mib"] == pytest.approx(bench.bptt_bytes("d-rnn") / 2 ** 20)
    assert res["peak_mib"] > 0 and 0 < res["probe_every_10_keeps"] < 1


def test_bench_human_output_one_line_per_config_and_thread_count():
    r = run("bench", "--configs", "d-rnn", "--threads", "1,2", "--seconds", 0, "--rounds", 1)
    assert r.exit_code == 0, r.output
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 4 and lines[0].startswith("matrix products on ")  # which paths
    assert lines[1].startswith("config")
    assert [ln.split()[2] for ln in lines[2:]] == ["1", "2"]


@pytest.mark.skipif(not HAS_TORCH, reason="PyTorch is not installed (never a dependency)")
def test_bench_torch_in_its_own_process():
    r = run("bench", "--configs", "d-rnn", "--threads", "1", "--seconds", 0, "--rounds", 1,
            "--torch", "--json")
    assert r.exit_code == 0, r.output
    (res,) = json.loads(r.stdout)["results"]
    assert res["torch_tokens_per_s"] > 0
    assert res["ratio"] == pytest.approx(res["train_tokens_per_s"] / res["torch_tokens_per_s"])


def test_bench_errors_are_one_line(monkeypatch):
    one_line_error(run("bench", "--configs", "zz"), "unknown bench config", "default")
    one_line_error(run("bench", "--configs", ","), "--configs")
    for bad in ("0", "two", "1,x", ""):
        one_line_error(run("bench", "--threads", bad), "--threads", "1,2")
    monkeypatch.setattr(bench, "torch_available", lambda: False)
    one_line_error(run("bench", "--configs", "d-rnn", "--torch"), "pip install torch==2.13.0")


def test_bench_sample_reports_one_and_32_samples():
    r = run("bench", "--configs", "default", "--threads", "1", "--seconds", 0, "--rounds", 1,
            "--sample", "--json")
    assert r.exit_code == 0, r.output
    (res,) = json.loads(r.stdout)["results"]
    assert res["sample_1_tokens_per_s"] > 0 and res["sample_32_tokens_per_s"] > 0
