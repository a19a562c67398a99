import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnlm.config import load_config
from rnnlm.data.batching import batchify, check_trainable, iter_windows, num_windows, window
from rnnlm.data.corpus import Corpus, load_corpus, load_splits, split_ids
from rnnlm.data.tokenizers.char import CharTokenizer
from rnnlm.errors import DataError


def test_split_ids_contiguous():
    ids = np.arange(100, dtype=np.int32)
    train, valid, test = split_ids(ids, 0.1, 0.05)
    assert len(train) == 85 and len(valid) == 10 and len(test) == 5
    assert np.array_equal(np.concatenate([train, valid, test]), ids)
    assert train[-1] + 1 == valid[0] and valid[-1] + 1 == test[0]


def test_split_ids_zero_fractions():
    ids = np.arange(10)
    train, valid, test = split_ids(ids, 0.0, 0.0)
    assert len(train) == 10 and valid.size == 0 and test.size == 0


def test_batchify_layout():
    ids = np.arange(13)
    s = batchify(ids, 3)
    assert s.shape == (3, 4) and s.dtype == np.int32
    assert s.tolist() == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]  # 12 dropped
    assert batchify(np.arange(2), 3).shape == (3, 0)


def test_windows_cover_every_position_once():
    s = batchify(np.arange(3 * 11), 3)  # N = 11 -> 10 positions with a target
    T = 4
    assert num_windows(s, T) == 3
    seen = []
    for i in range(num_windows(s, T)):
        x, y = window(s, i, T)
        assert x.dtype == np.int32 and x.shape == y.shape and x.shape[0] == 3
        assert np.array_equal(y, x + 1)  # y is x shifted by one (ids are consecutive integers)
        seen.append(x)
    assert [x.shape[1] for x in seen] == [4, 4, 2]  # the short last window
    assert np.array_equal(np.concatenate(seen, axis=1), s[:, :-1])


def test_window_exact_fit_and_bounds():
    s = batchify(np.arange(2 * 9), 2)  # N = 9 -> 8 positions
    assert num_windows(s, 4) == 2 and window(s, 1, 4)[0].shape == (2, 4)
    with pytest.raises(IndexError):
        window(s, 2, 4)
    with pytest.raises(IndexError):
        window(s, -1, 4)
    assert num_windows(batchify(np.arange(2), 2), 4) == 0  # N = 1: nothing to predict


def test_iter_windows_resume():
    s = batchify(np.arange(40), 2)
    all_windows = [i for i, _, _ in iter_windows(s, 3)]
    assert all_windows == list(range(num_windows(s, 3)))
    assert [i for i, _, _ in iter_windows(s, 3, start=4)] == all_windows[4:]


def test_check_trainable():
    check_trainable(4 * 9, 4, 8)
    with pytest.raises(DataError) as info:
        check_trainable(4 * 9 - 1, 4, 8)
    msg = str(info.value)
    assert "35 tokens" in msg and "36" in msg and "train.batch_size" in msg and "train.bptt" in msg


@settings(max_examples=150, deadline=None)
@given(n=st.integers(0, 400), batch=st.integers(1, 9), bptt=st.integers(1, 30))
def test_windows_reassemble_streams(n, batch, bptt):
    ids = np.arange(n, dtype=np.int32)
    s = batchify(ids, batch)
    N = n // batch
    assert s.shape == (batch, N)
    assert np.array_equal(s.reshape(-1), ids[:batch * N])
    xs, ys = [], []
    for _, x, y in iter_windows(s, bptt):
        assert 1 <= x.shape[1] <= bptt
        xs.append(x)
        ys.append(y)
    if N >= 2:
        assert np.array_equal(np.concatenate(xs, axis=1), s[:, :-1])
        assert np.array_equal(np.concatenate(ys, axis=1), s[:, 1:])
    else:
        assert xs == []


def test_load_splits_fits_on_whole_text(tmp_path):
    text = "a" * 90 + "Zq\n" + "b" * 7  # Z and q only appear near the end (the held-out part)
    p = tmp_path / "t.txt"
    p.write_text(text, encoding="utf-8")
    corpus = load_splits(p, "char", 0.05, 0.05)
    assert isinstance(corpus, Corpus)
    assert corpus.tokenizer.vocab_size == len(set(text))
    assert len(corpus.train) + len(corpus.valid) + len(corpus.test) == len(text)
    whole = np.concatenate([corpus.train, corpus.valid, corpus.test])
    assert corpus.tokenizer.decode(whole) == text


def test_load_corpus_from_config_and_saved_tokenizer(tmp_path):
    p = tmp_path / "t.txt"
    p.write_text("hello world\r\n" * 20, encoding="utf-8")
    cfg = load_config(None, [f"data.corpus={p}", "data.tokenizer=byte", "data.valid_fraction=0"])
    corpus = load_corpus(cfg.data)
    assert corpus.tokenizer.vocab_size == 256 and corpus.valid.size == 0
    assert len(corpus.train) + len(corpus.test) == len("hello world\r\n") * 20  # byte keeps CRLF
    saved = CharTokenizer().fit("helo wrd\n")
    corpus = load_splits(p, "byte", 0.1, 0.1, tokenizer=saved)  # the saved tokenizer's kind wins
    assert corpus.tokenizer is saved
    with pytest.raises(DataError, match="another alphabet"):
        load_splits(p, "char", 0.1, 0.1, tokenizer=CharTokenizer().fit("hel"))
