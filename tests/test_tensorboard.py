"""train.tensorboard: the event file holds the logged figures, read back record by record; without
the extra, one line naming the install command."""

import builtins
import math
import struct

import pytest
from typer.testing import CliRunner

from rnnlm.cli import app

TEXT = "the quick brown fox jumps over the lazy dog; " * 60
SETS = ["model.cell=gru", "model.layers=2", "model.embed_size=4", "model.hidden_size=8",
        "train.batch_size=4", "train.bptt=12", "train.max_steps=8", "train.log_every=4",
        "train.eval_every=4", "train.probe_every=4", "train.sample_length=0",
        "train.tensorboard=true"]


def train(corpus, out, *extra):
    args = ["train", "--corpus", str(corpus), "--out", str(out), "--no-progress"]
    for s in [*SETS, *extra]:
        args += ["--set", s]
    return CliRunner().invoke(app, args)


def read_events(path):
    """Every Event in a TFRecord file: u64 length, u32 crc, data, u32 crc (crcs not checked)."""
    from tensorboardX.proto.event_pb2 import Event
    data, events, at = path.read_bytes(), [], 0
    while at < len(data):
        (n,) = struct.unpack("<Q", data[at:at + 8])
        events.append(Event.FromString(data[at + 12:at + 12 + n]))
        at += 12 + n + 4
    return events


def test_event_file_holds_the_logged_figures(tmp_path):
    pytest.importorskip("tensorboardX")
    pytest.importorskip("PIL")  # tensorboardX encodes images with it (the extra installs both)
    corpus = tmp_path / "text.txt"
    corpus.write_text(TEXT)
    r = train(corpus, tmp_path / "run")
    assert r.exit_code == 0, r.output
    files = list((tmp_path / "run" / "tensorboard").glob("events.out.tfevents.*"))
    assert len(files) == 1
    scalars, images = {}, {}
    for e in read_events(files[0]):
        for v in e.summary.value:
            if v.HasField("image"):
                images[(v.tag, e.step)] = v.image
            elif v.HasField("simple_value") or v.tag:
                scalars[(v.tag, e.step)] = v.simple_value
    for tag in ("train/loss", "train/perplexity", "train/bits_per_token", "train/lr",
                "grad/norm_before_clip", "grad/norm_after_clip", "grad/clip_rate",
                "speed/tokens_per_s", "valid/loss", "valid/perplexity", "valid/bits_per_token",
                "probe/rho/layer_0", "probe/rho/layer_1", "probe/horizon/layer_0",
                "probe/horizon/layer_1"):
        assert (tag, 4) in scalars and (tag, 8) in scalars, tag
    # the same figures as metrics.jsonl
    import json
    records = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    last = [x for x in records if x["kind"] == "train"][-1]
    assert scalars[("train/loss", 8)] == pytest.approx(last["loss"], rel=1e-6)
    assert scalars[("train/perplexity", 8)] == pytest.approx(math.exp(last["loss"]), rel=1e-6)
    assert scalars[("grad/norm_before_clip", 8)] == pytest.approx(last["grad_norm"], rel=1e-6)
    valid = [x for x in records if x["kind"] == "eval"][-1]["valid_loss"]
    assert scalars[("valid/loss", 8)] == pytest.approx(valid, rel=1e-6)
    assert 0 <= scalars[("probe/horizon/layer_0", 8)] <= 12
    image = images[("grad/step_norms_heatmap", 8)]
    assert image.encoded_image_string[:8] == b"\x89PNG\r\n\x1a\n"
    assert image.height == 2 * 16 and image.width >= 12  # two layers, every time step


@pytest.mark.parametrize("missing", ["tensorboardX", "PIL"])
def test_missing_extra_is_one_line_and_creates_nothing(tmp_path, monkeypatch, missing):
    real_import = builtins.__import__

    def no_tensorboardx(name, *args, **kwargs):
        if name.split(".")[0] == missing:
            raise ImportError(f"No module named '{missing}'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tensorboardx)
    corpus = tmp_path / "text.txt"
    corpus.write_text(TEXT)
    r = train(corpus, tmp_path / "run")
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert r.stderr.strip().count("\n") == 0
    assert "pip install -e '.[tensorboard]'" in r.stderr
    assert not (tmp_path / "run").exists()
