"""`rnnlm inspect` through typer's test runner, on tiny runs trained here."""

import builtins
import json

import pytest
from typer.testing import CliRunner

from rnnlm.cli import app
from rnnlm.config import load_config
from rnnlm.diagnostics.report import PLOT_HINT
from rnnlm.train import train

T = 12
TEXT = "the quick brown fox jumps over the lazy dog; " * 80


def make_run(root, name, probe_every, cell="rnn_tanh", steps=12):
    corpus = root / "corpus.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    cfg = load_config(None, [f"data.corpus={corpus}", f"model.cell={cell}", "model.layers=2",
                             "model.embed_size=4", "model.hidden_size=8", "train.batch_size=4",
                             f"train.bptt={T}", f"train.max_steps={steps}", "train.log_every=4",
                             "train.eval_every=0", "train.sample_length=0",
                             f"train.probe_every={probe_every}"])
    out = root / name
    train(cfg, out, progress=False)
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    return {"rnn": make_run(root, "rnn", 4), "lstm": make_run(root, "lstm", 4, cell="lstm"),
            "relu": make_run(root, "relu", 6, cell="rnn_relu"), "off": make_run(root, "off", 0)}


def invoke(*args):
    return CliRunner().invoke(app, ["inspect", *map(str, args)])


def one_line_error(result, *words):
    assert result.exit_code != 0
    err = result.stderr.strip()
    assert "\n" not in err and "Traceback" not in err and err.startswith("rnnlm: error:")
    for w in words:
        assert w in err
    return err


def test_json_holds_everything_per_layer(runs):
    result = invoke(runs["lstm"], "--json")
    assert result.exit_code == 0, result.stderr
    rep = json.loads(result.stdout)
    assert rep["step"] == 12 and rep["probe_step"] == 12 and rep["cell"] == "lstm"
    assert len(rep["layers"]) == 2
    for x in rep["layers"]:
        assert len(x["probe_norms"]) == T and len(x["step_norms"]) == T
        assert x["rho"] > 0 and x["verdict"] in ("vanishing", "healthy", "exploding")
        assert x["horizon"] is None or 0 < x["horizon"] < T
        assert x["horizon_beyond_T"] == (x["horizon"] is None)
        assert list(x["spectral_radius"]) == ["i", "f", "o", "g"]
        assert set(x["saturation"]) == {"i", "f", "o", "g"}
        assert 0.0 <= x["clip_rate"] <= 1.0
    assert rep["clipping"]["pre_clip_norm"]["steps"] == 12
    assert [h["step"] for h in rep["history"]] == [4, 8, 12]
    assert rep["params"]["rnn.0.W_h"]["grad_norm"] > 0 and rep["advice"]


def test_relu_reports_dead_units(runs):
    rep = json.loads(invoke(runs["relu"], "--json").stdout)
    assert all(0.0 <= x["dead_share"] <= 1.0 and "saturation" not in x for x in rep["layers"])
    assert rep["probe_step"] == 12


def test_step_picks_a_logged_step(runs):
    rep = json.loads(invoke(runs["rnn"], "--step", 8, "--json").stdout)
    assert rep["step"] == 8 and rep["norms_step"] == 8 and rep["probe_step"] == 8
    assert [h["step"] for h in rep["history"]] == [4, 8]


def test_unknown_step_names_the_logged_range(runs):
    err = one_line_error(invoke(runs["rnn"], "--step", 7), "step 7", "4 to 12 every 4", "--step")
    assert "probes at 4 to 12" in err


def test_terminal_report(runs):
    result = invoke(runs["rnn"])
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    for words in ("gradient norm per time step", "legend", "layer 1", "layer 0",
                  "last-position probe", "ρ", "horizon", "spectral radius", "saturated",
                  "clipping fired on", "over training", "early", "late", "what to try"):
        assert words in out, words


def test_several_runs_side_by_side(runs):
    result = invoke(runs["rnn"], runs["lstm"])
    assert result.exit_code == 0, result.stderr
    assert "side by side" in result.stdout and "lstm" in result.stdout
    rep = json.loads(invoke(runs["rnn"], runs["lstm"], "--json").stdout)
    assert [r["cell"] for r in rep["runs"]] == ["rnn_tanh", "lstm"]


def test_probe_off_still_shows_the_heatmap(runs):
    text = invoke(runs["off"]).stdout
    assert "gradient norm per time step" in text and "--set train.probe_every=50" in text
    rep = json.loads(invoke(runs["off"], "--json").stdout)
    assert rep["probe_step"] is None and rep["history"] == []
    assert all(x["verdict"] == "probe off" and len(x["step_norms"]) == T for x in rep["layers"])
    assert not any('"probe"' in line for line in (runs["off"] / "metrics.jsonl").open())


def test_run_without_logged_norms(tmp_path):
    (tmp_path / "metrics.jsonl").write_text('{"kind": "eval", "step": 0}\n')
    one_line_error(invoke(tmp_path), "no logged gradient norms", "train.log_every")
    one_line_error(invoke(tmp_path / "nowhere"), "does not exist")


def test_missing_plot_extra(runs, tmp_path, monkeypatch):
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    result = invoke(runs["rnn"], "--png", tmp_path / "x.png")
    err = one_line_error(result, "pip install -e '.[plot]'")
    assert "rnnlm[" not in err  # never the registry's 'rnnlm', another project
    assert err == f"rnnlm: error: {PLOT_HINT}" and result.stdout == ""
    assert not (tmp_path / "x.png").exists()


def test_png(runs, tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "inspect.png"
    result = invoke(runs["rnn"], runs["off"], "--png", png)
    assert result.exit_code == 0, result.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
