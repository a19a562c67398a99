import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnlm.errors import CheckpointError, ConfigError, DataError
from rnnlm.data.corpus import read_corpus
from rnnlm.data.tokenizers import make_tokenizer, tokenizer_from_dict
from rnnlm.data.tokenizers.byte import ByteTokenizer
from rnnlm.data.tokenizers.char import CharTokenizer


def test_char_vocab_is_sorted_set():
    tok = make_tokenizer("char").fit("hello")
    assert tok.chars == "ehlo" and tok.vocab_size == 4
    ids = tok.encode("hello")
    assert ids.dtype == np.int32 and ids.shape == (5,)
    assert ids.tolist() == [1, 0, 2, 2, 3]
    assert tok.decode(ids) == "hello"


@pytest.mark.parametrize("text", ["plain ascii\n", "naïve café — Zürich ß", "emoji 😀🎉 mixed 中文",
                                  "line\r\nend\rings", "\ufeffbom inside", "tab\tnul-free \U0010ffff"])
def test_char_round_trip(text):
    tok = CharTokenizer().fit(text)
    assert tok.decode(tok.encode(text)) == text
    assert tok.vocab_size == len(set(text))


def test_char_round_trip_through_dict():
    tok = CharTokenizer().fit("abc 😀 é\n")
    d = json.loads(json.dumps(tok.to_dict()))
    tok2 = tokenizer_from_dict(d)
    assert tok2.chars == tok.chars
    assert tok2.encode("é😀 cab").tolist() == tok.encode("é😀 cab").tolist()
    assert tokenizer_from_dict({"kind": "char", "chars": list(tok.chars)}).chars == tok.chars


def test_unknown_char_error_and_skip():
    tok = CharTokenizer().fit("abc")
    with pytest.raises(DataError) as info:
        tok.encode("abxyzzvwuq")
    msg = str(info.value)
    assert "'x', 'y', 'z', 'v', 'w'" in msg and "'u'" not in msg and "another alphabet" in msg
    assert "7 character(s)" in msg
    assert tok.decode(tok.encode("a😀b", unknown="skip")) == "ab"


def test_char_decode_out_of_range():
    tok = CharTokenizer().fit("abc")
    with pytest.raises(DataError, match="outside the vocabulary"):
        tok.decode([0, 3])
    with pytest.raises(DataError, match="outside the vocabulary"):
        tok.decode(np.array([-1]))
    assert tok.decode(np.array([[0, 1], [2, 0]])) == "abca"  # any shape, flattened
    assert tok.decode([]) == ""


def test_char_fit_empty():
    with pytest.raises(DataError):
        CharTokenizer().fit("")


def test_char_encode_large_text_fast():
    text = "".join(chr(c) for c in range(32, 2000)) * 600  # ~1.2M characters
    tok = CharTokenizer().fit(text)
    ids = tok.encode(text)
    assert len(ids) == len(text) and tok.decode(ids[:5000]) == text[:5000]


def test_byte_tokenizer():
    tok = make_tokenizer("byte").fit("anything")
    assert tok.vocab_size == 256
    ids = tok.encode("é")
    assert ids.dtype == np.int32 and ids.tolist() == [0xC3, 0xA9]
    assert tok.decode(ids) == "é"
    assert tok.decode([0xC3]) == "\ufffd"  # half a character is replaced, not an error
    with pytest.raises(DataError):
        tok.decode([256])
    assert isinstance(tokenizer_from_dict(tok.to_dict()), ByteTokenizer)


def test_byte_tokenizer_random_bytes():
    data = np.random.default_rng(0).integers(0, 256, size=10_000, dtype=np.uint8).tobytes()
    tok = ByteTokenizer()
    ids = tok.encode(data)
    assert ids.min() >= 0 and ids.max() <= 255
    assert tok.decode_bytes(ids) == data


def test_make_tokenizer_unknown():
    with pytest.raises(ConfigError, match="data.tokenizer"):
        make_tokenizer("wordpiece")


@pytest.mark.parametrize("bad", [None, [], {"kind": "word"}, {"kind": "char"}, {"kind": "char", "chars": ""},
                                 {"kind": "char", "chars": "ba"}, {"kind": "char", "chars": "aa"},
                                 {"kind": "char", "chars": ["ab"]}, {"kind": "char", "chars": 5}])
def test_tokenizer_from_dict_rejects(bad):
    with pytest.raises(CheckpointError):
        tokenizer_from_dict(bad)


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1))
def test_char_round_trip_property(text):
    tok = CharTokenizer().fit(text)
    ids = tok.encode(text)
    assert ids.min() >= 0 and ids.max() < tok.vocab_size
    assert tok.decode(ids) == text


@settings(max_examples=100, deadline=None)
@given(st.binary())
def test_byte_round_trip_property(data):
    tok = ByteTokenizer()
    assert tok.decode_bytes(tok.encode(data)) == data


# --- read_corpus -------------------------------------------------------------------------------

def test_read_corpus_char_normalises(tmp_path):
    p = tmp_path / "c.txt"
    p.write_bytes("\ufeffone\r\ntwo\rthree\n😀".encode("utf-8"))
    assert read_corpus(p, "char") == "one\ntwo\nthree\n😀"
    assert read_corpus(p, "byte") == p.read_bytes()  # byte: untouched


def test_read_corpus_missing(tmp_path):
    with pytest.raises(DataError, match=r"not found: set data.corpus .*make corpora"):
        read_corpus(tmp_path / "missing.txt", "char")


def test_read_corpus_directory_and_empty(tmp_path):
    with pytest.raises(DataError, match="is a directory"):
        read_corpus(tmp_path, "char")
    (tmp_path / "e.txt").write_bytes(b"")
    with pytest.raises(DataError, match="is empty"):
        read_corpus(tmp_path / "e.txt", "byte")
    (tmp_path / "bom.txt").write_bytes(b"\xef\xbb\xbf")
    with pytest.raises(DataError):
        read_corpus(tmp_path / "bom.txt", "char")


def test_read_corpus_not_utf8(tmp_path):
    p = tmp_path / "latin1.txt"
    p.write_bytes("abc café".encode("latin-1"))
    with pytest.raises(DataError, match="byte offset 7.*data.tokenizer=byte"):
        read_corpus(p, "char")
    assert read_corpus(p, "byte") == p.read_bytes()


def test_read_corpus_binary(tmp_path):
    p = tmp_path / "bin.dat"
    p.write_bytes(b"ab\x00cd")
    with pytest.raises(DataError, match="binary.*offset 2.*data.tokenizer=byte"):
        read_corpus(p, "char")
