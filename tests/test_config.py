import dataclasses
import json
import math
import os

import pytest
import yaml

from rnnlm.config import (Config, OptimConfig, apply_overrides, config_from_dict, config_to_dict,
                          describe_keys, load_config, save_config)
from rnnlm.errors import ConfigError, RnnlmError


def write(tmp_path, text, name="c.yaml"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def config_error(tmp_path, text=None, overrides=()):
    path = write(tmp_path, text) if text is not None else None
    with pytest.raises(ConfigError) as info:
        load_config(path, overrides)
    msg = str(info.value)
    assert "\n" not in msg and isinstance(info.value, RnnlmError)
    return msg


def test_defaults():
    cfg = load_config(None)
    assert cfg == Config()
    assert cfg.model.cell == "lstm" and cfg.model.layers == 2 and cfg.model.init_scale == 0.0
    assert cfg.optim.name == "adam" and cfg.optim.lr == 2e-3 and cfg.optim.clip_norm == 5.0
    assert cfg.train.on_nonfinite == "skip" and cfg.data.tokenizer == "char"


def test_frozen():
    cfg = load_config(None)
    with pytest.raises(Exception):
        cfg.optim.lr = 1.0  # type: ignore[misc]


def test_file_values_and_round_trip(tmp_path):
    p = write(tmp_path, "model:\n  cell: gru\n  hidden_size: 16\noptim:\n  lr: 3e-3\n  eps: 1e-8\n"
                        "train:\n  dtype: float64\n")
    cfg = load_config(p)
    assert cfg.model.cell == "gru" and cfg.model.hidden_size == 16 and cfg.train.dtype == "float64"
    assert cfg.optim.lr == 0.003 and isinstance(cfg.optim.lr, float)  # "3e-3" is a str to PyYAML
    assert cfg.model.layers == 2  # untouched keys keep defaults
    d = config_to_dict(cfg)
    assert json.loads(json.dumps(d)) == d
    assert config_from_dict(d) == cfg
    out = tmp_path / "resolved.yaml"
    save_config(cfg, out)
    # a relative data path in a file is relative to the file's folder
    moved = dataclasses.replace(cfg.data, corpus=str(tmp_path / "corpora" / "tiny-shakespeare.txt"))
    assert load_config(out) == dataclasses.replace(cfg, data=moved)
    assert list(yaml.safe_load(out.read_text())) == ["data", "model", "train", "optim"]


def test_every_default_survives_save_and_load(tmp_path):
    save_config(Config(), tmp_path / "d.yaml")
    loaded = load_config(tmp_path / "d.yaml")
    assert loaded.data.corpus == str(tmp_path / Config().data.corpus)  # relative to the file
    assert dataclasses.replace(loaded, data=Config().data) == Config()


def test_int_given_for_float_key(tmp_path):
    cfg = load_config(write(tmp_path, "optim:\n  lr: 1\n"))
    assert cfg.optim.lr == 1.0 and isinstance(cfg.optim.lr, float)


def test_empty_file_means_defaults(tmp_path):
    assert load_config(write(tmp_path, "# nothing\n")) == Config()


def test_overrides():
    cfg = load_config(None, ["optim.lr=3e-3", "model.cell=gru", "train.batch_size=8", "data.corpus=on",
                             "optim.name = sgd"])
    assert cfg.optim.lr == 0.003 and cfg.model.cell == "gru" and cfg.train.batch_size == 8
    assert cfg.data.corpus == os.path.join(os.getcwd(), "on")  # the typed text, not YAML's bool,
    # made absolute against the current directory
    assert cfg.optim.name == "sgd"


def test_overrides_beat_file(tmp_path):
    p = write(tmp_path, "optim:\n  lr: 0.1\n")
    assert load_config(p, ["optim.lr=0.5"]).optim.lr == 0.5


def test_apply_overrides_on_a_config():
    cfg = apply_overrides(Config(), ["train.max_steps=7"])
    assert cfg.train.max_steps == 7 and cfg.optim == OptimConfig()


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match=r"config file '.*nope\.yaml' not found: check the path"):
        load_config(tmp_path / "nope.yaml")


def test_yaml_syntax_error_names_line(tmp_path):
    msg = config_error(tmp_path, "model:\n  cell: lstm\n  layers: [1, 2\noptim:\n  lr: 1\n")
    assert "not valid YAML at line" in msg


def test_top_level_not_mapping(tmp_path):
    assert "top level must be a mapping" in config_error(tmp_path, "- 1\n- 2\n")


def test_section_not_mapping(tmp_path):
    assert "'model' must be a mapping" in config_error(tmp_path, "model: 3\n")


@pytest.mark.parametrize("text, expected", [
    ("optim:\n  learning_rate: 0.1\n", "unknown config key 'optim.learning_rate': did you mean 'optim.lr'?"),
    ("model:\n  hiden_size: 3\n", "unknown config key 'model.hiden_size': did you mean 'model.hidden_size'?"),
    ("train:\n  lr: 0.1\n", "did you mean 'optim.lr'?"),
    ("optimizer:\n  lr: 0.1\n", "unknown config section 'optimizer': did you mean 'optim'?"),
])
def test_unknown_keys_did_you_mean(tmp_path, text, expected):
    assert expected in config_error(tmp_path, text)


def test_unknown_override_key():
    assert "did you mean 'optim.lr'?" in config_error(None, overrides=["optim.learning_rate=1"])
    assert "did you mean 'optim.lr'?" in config_error(None, overrides=["lr=1"])


def test_override_without_equals():
    assert "override 'optim.lr' has no '='" in config_error(None, overrides=["optim.lr"])


def test_duplicate_keys(tmp_path):
    msg = config_error(tmp_path, "optim:\n  lr: 0.1\n  name: sgd\n  lr: 0.2\n")
    assert "duplicate config key 'optim.lr' at line 4" in msg and "first at line 2" in msg
    msg = config_error(tmp_path, "optim:\n  lr: 0.1\nmodel:\n  layers: 1\noptim:\n  eps: 1\n")
    assert "duplicate config key 'optim' at line 5" in msg


@pytest.mark.parametrize("override, key, words", [
    ("train.batch_size=3.5", "train.batch_size", "must be an integer"),
    ("train.batch_size='3.5'", "train.batch_size", "must be an integer"),
    ("train.max_steps=100.0", "train.max_steps", "must be an integer"),
    ("train.max_steps=1e3", "train.max_steps", "must be an integer"),
    ("train.bptt=true", "train.bptt", "must be an integer"),
    ("optim.lr=fast", "optim.lr", "must be a number"),
    ("optim.lr=yes", "optim.lr", "must be a number"),
    ("optim.lr=.nan", "optim.lr", "finite"),
    ("optim.lr=nan", "optim.lr", "finite"),
    ("optim.clip_norm=.inf", "optim.clip_norm", "finite"),
    ("optim.lr=0", "optim.lr", "must be > 0"),
    ("optim.lr=-1e-3", "optim.lr", "must be > 0"),
    ("model.hidden_size=0", "model.hidden_size", ">= 1"),
    ("model.layers=-2", "model.layers", ">= 1"),
    ("model.dropout=1.0", "model.dropout", "< 1"),
    ("data.valid_fraction=0.5", "data.valid_fraction", "< 0.5"),
    ("data.test_fraction=-0.1", "data.test_fraction", ">= 0"),
    ("optim.beta2=1", "optim.beta2", "< 1"),
    ("train.rollback_lr_factor=0", "train.rollback_lr_factor", "> 0"),
    ("model.cell=lstmm", "model.cell", "one of rnn_tanh, rnn_relu, gru, lstm"),
    ("optim.schedule=stepwise", "optim.schedule", "one of constant, step, exponential, plateau, cosine, linear"),
    ("data.tokenizer=words", "data.tokenizer", "one of char, byte, word, bpe"),
    ("model.cell=", "model.cell", "must be a string"),
    ("optim.min_lr=1", "optim.min_lr", "must not exceed"),
])
def test_bad_values_name_the_key(override, key, words):
    msg = config_error(None, overrides=[override])
    assert f"'{key}'" in msg and words in msg


def test_bad_value_in_file(tmp_path):
    msg = config_error(tmp_path, "train:\n  batch_size: 3.5\n")
    assert "'train.batch_size' must be an integer" in msg


def test_config_from_dict_validates():
    d = config_to_dict(Config())
    d["model"]["dropout"] = 2.0
    with pytest.raises(ConfigError, match="model.dropout"):
        config_from_dict(d)
    with pytest.raises(ConfigError, match="top level"):
        config_from_dict([1])


def test_describe_keys_covers_everything():
    rows = describe_keys()
    keys = [r[0] for r in rows]
    flat = [f"{s}.{k}" for s, body in config_to_dict(Config()).items() for k in body]
    assert keys == flat
    for key, type_name, default, meaning in rows:
        assert type_name and meaning
        assert isinstance(default, (int, float, str)) and not (isinstance(default, float) and math.isnan(default))
    assert ("model.cell", "rnn_tanh | rnn_relu | gru | lstm", "lstm") == rows[keys.index("model.cell")][:3]


def test_shipped_default_yaml_is_valid():
    from pathlib import Path
    path = Path(__file__).resolve().parent.parent / "configs" / "default.yaml"
    cfg = load_config(path)
    assert cfg.model.cell == "lstm" and cfg.data.tokenizer == "char" and cfg.optim.name == "adam"
