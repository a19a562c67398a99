"""The word and bpe tokenizers, char's NFC option: round trips, save/load, settings, bad settings."""

import json
import unicodedata

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnlm.config import load_config
from rnnlm.data.tokenizers import make_tokenizer, tokenizer_from_dict
from rnnlm.data.tokenizers.bpe import BpeTokenizer
from rnnlm.data.tokenizers.char import CharTokenizer
from rnnlm.data.tokenizers.word import WordTokenizer
from rnnlm.errors import CheckpointError, ConfigError, DataError

TEXT = "The cat sat.\nThe dog, the cat (and a bird) sat!\n\nDon't stop: it's 42.\n"


def data_cfg(*overrides):
    return load_config(None, list(overrides)).data


# --- word ------------------------------------------------------------------------------------

def test_word_whitespace_vocab_eos_unk():
    tok = make_tokenizer("word", data_cfg("data.tokenizer=word")).fit(TEXT)
    assert tok.words[:2] == ("<eos>", "<unk>") and tok.eos_id == 0 and tok.unk_id == 1
    assert tok.words[2] == "The" and "sat." in tok.words  # most frequent first; punctuation kept on
    ids = tok.encode("The cat\nzebra sat.")
    assert ids.dtype == np.int32
    assert ids.tolist() == [tok.words.index("The"), tok.words.index("cat"), 0, 1, tok.words.index("sat.")]
    assert tok.unknown_count == 1  # "zebra"
    assert tok.decode(ids) == "The cat\n<unk> sat."
    assert tok.encode("<unk> cat").tolist()[0] == 1 and tok.unknown_count == 0  # PTB's <unk> is not counted
    assert tok.encode("zebra cat", unknown="skip").tolist() == [tok.words.index("cat")]
    with pytest.raises(DataError, match="'zebra'"):
        tok.encode("zebra", unknown="error")


def test_word_punct_lowercase_cap_min_count():
    tok = WordTokenizer(word_split="punct", lowercase=True, max_size=8).fit(TEXT)
    assert tok.vocab_size == 8 and all(w == w.lower() for w in tok.words)
    assert tok.words[2:5] == ("the", ".", "cat")  # counts 3, 2+..., ties alphabetical
    full = WordTokenizer(word_split="punct").fit(TEXT)
    assert "Don't" in full.words and "(" in full.words and "," in full.words
    text = "The cat (and a bird) sat, Don't stop!"
    assert full.decode(full.encode(text)) == text  # the documented spacing rule
    rare = WordTokenizer(min_count=2).fit(TEXT)
    assert set(rare.words[2:]) == {"The", "cat"}


def test_word_stream_decoder_matches_decode():
    tok = WordTokenizer(word_split="punct").fit(TEXT)
    ids = tok.encode(TEXT)
    dec = tok.stream_decoder()
    assert "".join(dec.feed(i) for i in ids) + dec.finish() == tok.decode(ids)


def canonical(text):
    """The documented whitespace rule: one space between words, none at line ends."""
    return "\n".join(" ".join(line.split()) for line in text.split("\n"))


WORDS = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\n"), min_size=1)


@settings(max_examples=100, deadline=None)
@given(st.lists(WORDS, min_size=1, max_size=30))
def test_word_round_trips_documented_text(lines):
    text = "\n".join(lines)
    tok = WordTokenizer().fit(text + " x")
    assert tok.decode(tok.encode(text)) == canonical(text)
    restored = tokenizer_from_dict(json.loads(json.dumps(tok.to_dict())))
    assert restored.encode(text).tolist() == tok.encode(text).tolist()


@settings(max_examples=100, deadline=None)
@given(st.text(min_size=1), st.data())
def test_word_punct_encode_decode_is_identity_on_ids(text, data):
    tok = WordTokenizer(word_split="punct").fit(text + " x")
    words = list(range(2, tok.vocab_size)) + [0]  # every word and <eos>
    ids = data.draw(st.lists(st.sampled_from(words), max_size=40))
    assert tok.encode(tok.decode(ids)).tolist() == ids


def test_word_settings_checked():
    with pytest.raises(ConfigError, match="too small for the word tokenizer.*<eos>, <unk>"):
        make_tokenizer("word", data_cfg("data.tokenizer=word", "data.vocab_size=2"))
    with pytest.raises(ConfigError, match="'data.lowercase' does not apply to data.tokenizer=char"):
        make_tokenizer("char", data_cfg("data.lowercase=true"))
    with pytest.raises(DataError, match="data.min_count=5"):
        WordTokenizer(min_count=5).fit("a b c")


@pytest.mark.parametrize("bad", [{"kind": "word"}, {"kind": "word", "words": []},
                                 {"kind": "word", "words": ["a", "a"], "word_split": "whitespace"},
                                 {"kind": "word", "words": ["<unk>"], "word_split": "whitespace"},
                                 {"kind": "word", "words": ["a"], "word_split": "commas"},
                                 {"kind": "bpe", "merges": [[0, 256]]}, {"kind": "bpe", "merges": "x"},
                                 {"kind": "bpe", "merges": [[1, 2], [1, 2]]},
                                 {"kind": "char", "chars": "ab", "normalize": "nfd"}])
def test_saved_tokenizers_checked(bad):
    with pytest.raises(CheckpointError):
        tokenizer_from_dict(bad)


# --- bpe -------------------------------------------------------------------------------------

def test_bpe_learns_to_target_and_round_trips():
    text = "low lower lowest newer newest wider " * 20 + "é😀\n"
    tok = BpeTokenizer(target_size=270).fit(text)
    assert tok.vocab_size == 270 and len(tok.merges) == 14
    ids = tok.encode(text)
    assert len(ids) < len(text.encode("utf-8")) / 2  # merges shorten the text
    assert tok.decode(ids) == text
    assert tok.text_size(ids) == (len(text), len(text.encode("utf-8")))
    restored = tokenizer_from_dict(json.loads(json.dumps(tok.to_dict())))
    assert restored.encode(text).tolist() == ids.tolist()


def test_bpe_settings_checked():
    with pytest.raises(ConfigError, match="data.vocab_size.*above 256"):
        make_tokenizer("bpe", data_cfg("data.tokenizer=bpe"))
    with pytest.raises(DataError, match=r"supports only \d+ bpe ids.*set data.vocab_size <="):
        BpeTokenizer(target_size=5000).fit("a small text\n")


def test_bpe_stream_decoder_holds_half_characters():
    tok = BpeTokenizer(target_size=260).fit("Fluß Fluß Fluß über\n")
    ids = tok.encode("Fluß über")
    dec = tok.stream_decoder()
    pieces = [dec.feed(i) for i in ids]
    assert "\ufffd" not in "".join(pieces) and "".join(pieces) + dec.finish() == "Fluß über"


BPE = BpeTokenizer(target_size=300).fit(TEXT * 5 + "naïve café — Zürich ß 😀 " * 5)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_bpe_round_trips_any_text(text):
    ids = BPE.encode(text)
    assert BPE.decode(ids) == text
    assert BPE.text_size(ids)[0] == len(text)


@settings(max_examples=50, deadline=None)
@given(st.text(min_size=1), st.integers(257, 300))
def test_bpe_fitted_on_any_text_round_trips(text, size):
    try:
        tok = BpeTokenizer(target_size=size).fit(text)
    except DataError as e:
        assert "supports only" in str(e)
        return
    assert tok.decode(tok.encode(text)) == text


def test_blockwise_encoding_equals_whole():
    text = "line one, with words\n  indented\tline\n\nlast line no newline"
    lines = text.splitlines(keepends=True)
    for tok in (BPE, WordTokenizer(word_split="punct").fit(text), CharTokenizer().fit(text)):
        whole = tok.encode(text).tolist()
        assert sum((tok.encode(line).tolist() for line in lines), []) == whole


# --- char normalize --------------------------------------------------------------------------

def test_char_nfc():
    decomposed = "e\u0301te\u0301"  # é written as e + combining accent
    tok = make_tokenizer("char", data_cfg("data.normalize=nfc")).fit(decomposed)
    assert tok.chars == "té"
    assert tok.decode(tok.encode(decomposed)) == unicodedata.normalize("NFC", decomposed)
    restored = tokenizer_from_dict(tok.to_dict())
    assert restored.normalize == "nfc" and restored.encode("\u00e9").tolist() == tok.encode("e\u0301").tolist()
    assert CharTokenizer().fit(decomposed).vocab_size == 3  # without: e, t and the accent


def test_tokenizer_needing_a_missing_extra_is_one_line(monkeypatch, tmp_path):
    from rnnlm import registry
    (tmp_path / "rnnlm_fake_spm.py").write_text("import sentencepiece_not_installed_here\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(registry.TOKENIZERS, "spm", registry.Entry("rnnlm_fake_spm:Tok", "needs an extra"))
    with pytest.raises(ConfigError, match=r"needs the optional package 'sentencepiece_not_installed_here'.*"
                                          r"pip install sentencepiece_not_installed_here"):
        make_tokenizer("spm")
