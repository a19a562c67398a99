"""The text a command scores: a split of the run's own data (checked to be the file it was trained
on) or any text file, as ids with the size of their text (tokens, characters, bytes, unknowns)."""

from pathlib import Path

from rnnlm.data import idcache
from rnnlm.data.corpus import data_files, load_corpus
from rnnlm.data.reader import check_file, iter_blocks
from rnnlm.errors import DataError


def check_data_files(run):
    """DataError unless each data file of the run is where it was and holds what it held in training."""
    recorded = run.meta.get("data_files")
    files = data_files(run.config.data)
    raw = {k: getattr(run.config.data, k) for k in ("corpus", "train", "valid", "test")}
    if not recorded:
        relative = [v for v in raw.values() if v and not Path(v).is_absolute()]
        if relative:
            raise DataError(f"this run was written by an older rnnlm that did not record where its data is "
                            f"('{relative[0]}' is relative to a directory it did not save): evaluate a text "
                            "file with --text FILE")
        return
    for role, fp in recorded.items():
        path = Path(fp.get("path", ""))
        if not path.is_file():
            raise DataError(f"the {role} file this run was trained on, {path}, is gone: put it back, or "
                            "evaluate a text file with --text FILE")
        now = idcache.file_fingerprint(path, fp)
        if not idcache.same_file(fp, now):
            raise DataError(f"{path} is not the {role} file this run was trained on (its size or sha256 "
                            "changed since): restore that file, or evaluate this text with --text FILE")
    if {r: str(p) for r, p in files.items()} != {r: fp.get("path") for r, fp in recorded.items()}:
        raise DataError("the run's config and its recorded data files disagree: the run directory was "
                        "edited; evaluate with --text FILE")


def split_text(run, split):
    """(ids, {"tokens", "chars", "bytes", "unknown"}, source) of a split of the run's own data."""
    check_data_files(run)
    corpus = load_corpus(run.config.data, run.tokenizer)
    ids = getattr(corpus, split)
    if run.config.data.train and not run.config.data.test and split == "test":
        raise DataError("the run has no test file (data.test was not set): use --split valid, or --text FILE")
    fp = corpus.files.get(split) or corpus.files["corpus"]
    return ids, corpus.sizes.get(split, {}), f"{split} split of {fp['path']}"


def file_text(run, path):
    """(ids, {"tokens", "chars", "bytes", "unknown"}, source) of a text file of any size: encoded
    in blocks into the id cache (.rnnlm-cache/ beside it, or $RNNLM_CACHE_DIR) and memory-mapped,
    so a text larger than memory is scored window by window."""
    tok = run.tokenizer
    p = check_file(path, "text", "--text")
    blocks = lambda: iter_blocks(p, tok.reads_bytes, whole_words=not tok.reads_bytes)  # noqa: E731
    enc = idcache.encode_part(p, tok, 0.0, 1.0, blocks)
    size = {"tokens": len(enc.ids), "chars": enc.chars, "bytes": enc.bytes, "unknown": enc.unknown}
    return enc.ids, size, str(path)
