"""Fuzzing with hypothesis: configs, tokenizer inputs and checkpoint bytes never fail with
anything but the project's own one-line errors, never allocate absurdly, never unpickle."""

import io
import pickle

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnnlm.config import config_from_dict, load_config
from rnnlm.config.schema import _FIELDS
from rnnlm.run import checkpoint
from rnnlm.run.checkpoint import load_checkpoint, save_checkpoint
from rnnlm.errors import CheckpointError, ConfigError, DataError
from rnnlm.data.corpus import read_corpus
from rnnlm.data.tokenizers import tokenizer_from_dict
from rnnlm.data.tokenizers.byte import ByteTokenizer
from rnnlm.data.tokenizers.char import CharTokenizer

FAST = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=6)
known_keys = st.sampled_from([(sec, key) for sec, keys in _FIELDS.items() for key in keys])


@st.composite
def raw_configs(draw):
    """Mostly real section/key names (so values get checked), some made-up ones."""
    raw = {}
    for _ in range(draw(st.integers(0, 6))):
        sec, key = draw(known_keys) if draw(st.booleans()) else (draw(st.text(max_size=6)),
                                                                  draw(st.text(max_size=6)))
        raw.setdefault(sec, {})[key] = draw(values)
    if draw(st.integers(0, 9)) == 0:
        raw[draw(st.text(max_size=5))] = draw(values)  # a section that is not a mapping
    return raw


@FAST
@given(raw_configs())
def test_config_dicts_raise_only_config_error(raw):
    try:
        config_from_dict(raw)
    except ConfigError as e:
        assert "\n" not in str(e)


@FAST
@given(raw_configs(), st.lists(st.text(max_size=20), max_size=3))
def test_config_files_raise_only_config_error(tmp_path, raw, overrides):
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    try:
        load_config(path, overrides)
    except ConfigError:
        pass


@FAST
@given(st.text(max_size=200))
def test_yaml_text_raises_only_config_error(tmp_path, text):
    path = tmp_path / "cfg.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        load_config(path)
    except ConfigError:
        pass


@FAST
@given(st.text(min_size=1, max_size=300))
def test_char_tokenizer_round_trips_any_text(text):
    tok = tokenizer_from_dict(CharTokenizer().fit(text).to_dict())
    ids = tok.encode(text)
    assert ids.dtype == np.int32 and tok.decode(ids) == text


@FAST
@given(st.binary(max_size=300))
def test_byte_tokenizer_round_trips_any_bytes(data):
    tok = ByteTokenizer()
    assert tok.decode_bytes(tok.encode(data)) == data


@FAST
@given(st.binary(min_size=0, max_size=300), st.sampled_from(["char", "byte"]))
def test_any_corpus_file_reads_or_raises_data_error(tmp_path, data, kind):
    path = tmp_path / "corpus.bin"
    path.write_bytes(data)
    try:
        text = read_corpus(path, kind)
    except DataError:
        return
    tok = CharTokenizer().fit(text) if kind == "char" else ByteTokenizer()
    assert tok.decode(tok.encode(text)) == (text if kind == "char" else data.decode("utf-8", "replace"))


@FAST
@given(st.one_of(st.none(), st.integers(), st.text(max_size=20), values,
                 st.fixed_dictionaries({"kind": st.sampled_from(["char", "byte", "word"]),
                                        "chars": values})))
def test_saved_tokenizer_garbage_raises_checkpoint_error(d):
    try:
        tokenizer_from_dict(d)
    except CheckpointError:
        pass


@pytest.fixture(scope="module")
def good_checkpoint():
    buf = io.BytesIO()
    arrays = {"param/w": np.arange(12, dtype=np.float32).reshape(3, 4),
              "optim/t": np.array(3, np.int64)}
    save_checkpoint_bytes = checkpoint.checkpoint_bytes(arrays, {"step": 7})
    buf.write(save_checkpoint_bytes)
    return buf.getvalue()


@pytest.fixture
def no_pickle_no_huge(monkeypatch):
    """Fail the test on any unpickling, or an array of more than a million elements."""
    monkeypatch.setattr(pickle, "loads", lambda *a, **k: pytest.fail("unpickled"))
    monkeypatch.setattr(pickle, "load", lambda *a, **k: pytest.fail("unpickled"))
    monkeypatch.setattr(checkpoint, "MAX_ARRAY_ELEMENTS", 1 << 20)


def mutate(data, edits):
    raw = bytearray(data)
    for pos, value in edits:
        if raw:
            raw[pos % len(raw)] = value
    return bytes(raw)


@FAST
@given(edits=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1,
                      max_size=8),
       cut=st.one_of(st.none(), st.integers(0, 2000)))
def test_mutated_checkpoints_raise_only_checkpoint_error(tmp_path, good_checkpoint,
                                                         no_pickle_no_huge, edits, cut):
    data = mutate(good_checkpoint, edits)
    path = tmp_path / "c.npz"
    path.write_bytes(data[:cut] if cut is not None else data)
    try:
        arrays, meta = load_checkpoint(path)
    except CheckpointError as e:
        assert "\n" not in str(e)
        return
    assert np.array_equal(arrays["param/w"], np.arange(12, dtype=np.float32).reshape(3, 4))


@FAST
@given(st.binary(max_size=600))
def test_random_bytes_raise_only_checkpoint_error(tmp_path, no_pickle_no_huge, data):
    path = tmp_path / "c.npz"
    path.write_bytes(data)
    with pytest.raises(CheckpointError):
        load_checkpoint(path)


@FAST
@given(shape=st.lists(st.integers(0, 1 << 40), min_size=1, max_size=4),
       descr=st.sampled_from(["<f4", "<f8", "|O", "<i8", "|u1"]))
def test_declared_headers_checked_before_allocating(tmp_path, no_pickle_no_huge, shape, descr):
    import zipfile
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": descr, "fortran_order": False,
                                                  "shape": tuple(shape)})
    path = tmp_path / "c.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("param/w.npy", header.getvalue() + b"\0" * 64)
    with pytest.raises(CheckpointError):
        load_checkpoint(path)


def test_save_checkpoint_then_fuzz_helpers_agree(tmp_path):
    save_checkpoint(tmp_path / "c.npz", {"param/w": np.ones(3)}, {"step": 1})
    assert load_checkpoint(tmp_path / "c.npz")[1]["step"] == 1
