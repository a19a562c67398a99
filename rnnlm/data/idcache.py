"""The id cache: a text file is encoded once; later runs memory-map its ids.

Where: the folder .rnnlm-cache/ next to the text file (or $RNNLM_CACHE_DIR, e.g. when the text
sits in a read-only folder). What, for a part of a file (the whole file, or a share of it cut at
line ends) and a tokenizer:

    <stem>.<key>.ids     the ids, raw little-endian uint16 (vocabulary < 65536) or uint32
    <stem>.<key>.json    count, dtype, characters and bytes of the text, an index of characters and
                         bytes every INDEX_EVERY ids, and the fingerprint of the file it came from
    <stem>.<key>.vocab.json   a fitted tokenizer (to_dict) and the fingerprints it was fitted on

<key> hashes the file's absolute path, the part and the tokenizer (its settings for a vocabulary,
its whole vocabulary for ids). An entry is used only while the file's fingerprint (size, mtime and
sha256) is the one recorded; otherwise it is rebuilt and a line says so. The sha256 is computed
again only when size or mtime changed. Files are written to a temporary name and renamed, so a kill
leaves the old entry or the new one; nothing reads the text into memory whole.
"""

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from rnnlm.console import say, warn
from rnnlm.run.atomic import write_atomic

from .tokenizers.base import utf8_sizes

INDEX_EVERY = 1 << 16  # ids between two entries of the characters/bytes index
_warned_dirs: set = set()


def file_fingerprint(path: str | os.PathLike, known: dict | None = None) -> dict:
    """{"path", "size", "mtime_ns", "sha256"} of a file; the sha256 of `known` is reused when size and
    mtime_ns are unchanged."""
    p = Path(path).resolve()
    st = p.stat()
    fp = {"path": str(p), "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    if known and known.get("size") == st.st_size and known.get("mtime_ns") == st.st_mtime_ns \
            and isinstance(known.get("sha256"), str):
        return dict(fp, sha256=known["sha256"])
    digest = hashlib.sha256()
    with open(p, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return dict(fp, sha256=digest.hexdigest())


def same_file(recorded: dict, current: dict) -> bool:
    return recorded.get("size") == current["size"] and recorded.get("sha256") == current["sha256"]


def cache_dir(path: Path) -> Path:
    env = os.environ.get("RNNLM_CACHE_DIR")
    return Path(env) if env else path.parent / ".rnnlm-cache"


def _entry(path: Path, identity: Any, suffix: str) -> Path:
    key = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]
    return cache_dir(path) / f"{path.name}.{key}{suffix}"


def _read_json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else None
    except (OSError, ValueError):
        return None


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        return os.access(folder, os.W_OK)
    except OSError:
        return False


def _unusable(folder: Path) -> None:
    if folder not in _warned_dirs:
        _warned_dirs.add(folder)
        warn(f"cannot write the id cache in {folder}: encoding in memory each run (set RNNLM_CACHE_DIR "
             "to a writable folder to cache)")


def _fresh(meta: dict | None, files: list, what: str) -> tuple[bool, list]:
    """(still valid, current fingerprints) of the files a cache entry was built from."""
    old = (meta or {}).get("files") or []
    known = {f.get("path"): f for f in old if isinstance(f, dict)}
    current = [file_fingerprint(p, known.get(str(Path(p).resolve()))) for p in files]
    if meta is None:
        return False, current
    if len(old) == len(current) and all(same_file(known.get(c["path"], {}), c) for c in current):
        return True, current
    say(f"{', '.join(str(p) for p in files)} changed since its {what} was cached: building it again")
    return False, current


def cached_vocabulary(tokenizer, parts: list, fit) -> Any:
    """The fitted tokenizer for `parts` [(path, lo, hi)]: from the cache, or fit(tokenizer) and store it."""
    from .tokenizers import tokenizer_from_dict
    first = Path(parts[0][0]).resolve()
    identity = {"parts": [[str(Path(p).resolve()), lo, hi] for p, lo, hi in parts], "tokenizer": tokenizer.settings()}
    entry = _entry(first, identity, ".vocab.json")
    files = list(dict.fromkeys(str(Path(p).resolve()) for p, _, _ in parts))
    meta = _read_json(entry)
    ok, current = _fresh(meta, files, "vocabulary")
    if ok:
        try:
            return tokenizer_from_dict(meta["tokenizer"])
        except Exception:  # a damaged entry is rebuilt, never trusted
            pass
    fitted = fit(tokenizer)
    if _writable(entry.parent):
        try:
            write_atomic(entry, json.dumps({"tokenizer": fitted.to_dict(), "files": current}).encode())
        except OSError:
            _unusable(entry.parent)
    else:
        _unusable(entry.parent)
    return fitted


class Encoded:
    """The ids of a part of a file (a memory map, or an array when nothing could be cached), with the
    characters, bytes and unknown symbols of its text and an index of characters/bytes every INDEX_EVERY ids."""

    def __init__(self, ids: np.ndarray, meta: dict):
        self.ids, self.meta = ids, meta
        self.chars, self.bytes, self.unknown = meta["chars"], meta["bytes"], meta.get("unknown", 0)
        self.fingerprint = meta["files"][0]


def _load_ids(path: Path, meta: dict) -> np.ndarray | None:
    try:
        dtype, count = np.dtype(meta["dtype"]), int(meta["count"])
        if dtype not in (np.dtype("<u2"), np.dtype("<u4")) or path.stat().st_size != count * dtype.itemsize:
            return None
        return np.memmap(path, dtype=dtype, mode="r", shape=(count,)) if count else np.zeros(0, dtype)
    except (OSError, KeyError, TypeError, ValueError):
        return None


def _size_index(tokenizer, ids: np.ndarray) -> list | None:
    """[[chars, bytes] before id k * INDEX_EVERY for every k], or None when the ids do not fix the text."""
    if tokenizer.text_size(ids[:0]) is None:
        return None
    index, chars, nbytes = [[0, 0]], 0, 0
    for k in range(0, len(ids), INDEX_EVERY):
        c, b = tokenizer.text_size(ids[k:k + INDEX_EVERY])
        chars, nbytes = chars + c, nbytes + b
        index.append([chars, nbytes])
    return index


def range_size(tokenizer, enc: Encoded, start: int, stop: int) -> tuple[int, int]:
    """(characters, bytes) of the text of ids[start:stop], from the index plus at most 2 partial blocks."""
    index = enc.meta.get("index")
    if index is None:
        return enc.chars, enc.bytes  # only whole parts are asked for then
    def upto(n):
        k = n // INDEX_EVERY
        c, b = tokenizer.text_size(enc.ids[k * INDEX_EVERY:n])
        return index[k][0] + c, index[k][1] + b
    (c0, b0), (c1, b1) = upto(start), upto(stop)
    return c1 - c0, b1 - b0


def encode_part(path: str | os.PathLike, tokenizer, lo: float, hi: float, blocks) -> Encoded:
    """The ids of the text `blocks()` yields (the part lo..hi of path): cached, or encoded now and stored."""
    p = Path(path).resolve()
    entry = _entry(p, {"path": str(p), "part": [lo, hi], "tokenizer": tokenizer.to_dict()}, ".json")
    ids_path = entry.with_suffix(".ids")
    meta = _read_json(entry)
    ok, current = _fresh(meta, [str(p)], "token ids")
    if ok:
        ids = _load_ids(ids_path, meta)
        if ids is not None:
            return Encoded(ids, meta)
    dtype = np.dtype("<u2") if tokenizer.vocab_size < 65536 else np.dtype("<u4")
    folder = entry.parent
    to_disk = _writable(folder)
    if not to_disk:
        _unusable(folder)
    tmp = folder / f".{ids_path.name}.tmp-{os.getpid()}"
    kept, count, chars, nbytes, unknown = [], 0, 0, 0, 0
    f = None
    try:
        f = open(tmp, "wb") if to_disk else None
        for block in blocks():
            ids = tokenizer.encode(block)
            unknown += tokenizer.unknown_count
            size = tokenizer.text_size(ids)
            if size is None:
                size = utf8_sizes(block)
            chars, nbytes, count = chars + size[0], nbytes + size[1], count + len(ids)
            if f is not None:
                f.write(ids.astype(dtype).tobytes())
            else:
                kept.append(ids.astype(dtype))
        if f is not None:
            f.flush()
            os.fsync(f.fileno())
            f.close()
            f = None
            os.replace(tmp, ids_path)
    except BaseException:
        if f is not None:
            f.close()
        if tmp.exists():
            tmp.unlink()
        raise
    meta = {"count": count, "dtype": dtype.str, "chars": chars, "bytes": nbytes, "unknown": unknown,
            "files": current, "tokenizer": tokenizer.kind}
    ids = np.concatenate(kept) if kept else np.zeros(0, dtype)
    if to_disk:
        ids = _load_ids(ids_path, meta)
    meta["index"] = _size_index(tokenizer, ids)
    if to_disk:
        try:
            write_atomic(entry, json.dumps(meta).encode())
        except OSError:
            _unusable(folder)
    return Encoded(ids, meta)
