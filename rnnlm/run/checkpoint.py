"""Checkpoints: arrays in one .npz, metadata as JSON inside it; no pickle anywhere.

Layout of a checkpoint file (every entry a plain numeric array):

    <name>            model parameters under their own names: embed.W, rnn.0.W_h, head.b, ...
    optim/<name>      optimizer state, e.g. optim/m.head.W, optim/t
    state/<l>.<i>     carried hidden state of layer l, tensor i (h, then c for the LSTM)
    __meta__          uint8 bytes of a UTF-8 JSON object: format, step, config, tokenizer, rng,
                      data position, best validation loss, sha256 of the arrays

Writes are atomic (atomic.py): a crash leaves either the old file or the new one, never half.
"""

import hashlib
import io
import json
import os

import numpy as np

from .atomic import write_atomic
from rnnlm.errors import CheckpointError

FORMAT = "rnnlm-checkpoint-1"
MAX_ARRAY_ELEMENTS = 1 << 31  # refuse absurd declared shapes before allocating


def arrays_digest(arrays):
    """sha256 over names, dtypes, shapes and bytes of the arrays, in name order."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def atomic_write_bytes(path, data):
    """Write a checkpoint's bytes atomically (atomic.write_atomic); a failure is one line."""
    try:
        write_atomic(path, data)
    except OSError as e:
        raise CheckpointError(f"cannot write {os.fspath(path)}: {e.strerror or e}; free disk "
                              "space or fix the permissions of the run directory, then resume "
                              "with --resume") from None


def checkpoint_bytes(arrays, meta):
    """The .npz bytes of a checkpoint. Refuses NaN/inf: no checkpoint ever holds them."""
    for name, a in arrays.items():
        if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
            raise CheckpointError(f"'{name}' holds NaN or inf; no checkpoint written: lower "
                                  "optim.lr or set optim.clip_norm")
    meta = dict(meta, format=FORMAT, sha256=arrays_digest(arrays))
    payload = dict(arrays)
    payload["__meta__"] = np.frombuffer(json.dumps(meta, allow_nan=False).encode(), dtype=np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **payload)
    return buf.getvalue()


def save_checkpoint(path, arrays, meta):
    """arrays: {'embed.W': ndarray, 'optim/t': ..., ...}; meta: JSON-safe dict. Atomic."""
    atomic_write_bytes(path, checkpoint_bytes(arrays, meta))


def load_checkpoint(path):
    """Read and verify a checkpoint. Returns (arrays, meta). Raises only CheckpointError.

    Every .npy header is read and checked (no object dtype, a sane shape that the stored bytes
    can hold) before any array is allocated; nothing is ever unpickled.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint '{path}' not found: train a run first or check the path")
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError as e:
        raise CheckpointError(f"cannot read checkpoint '{path}': {e.strerror or e}") from None
    if magic not in (b"PK\x03\x04", b"PK\x05\x06"):  # every .npz is a zip archive
        raise CheckpointError(f"checkpoint '{path}' is not an .npz file (no zip signature): it "
                              "is corrupt or something else; use another checkpoint or retrain")
    try:
        with np.load(path, allow_pickle=False) as z:
            for name in z.files:
                _check_header(z, name, path)
            arrays = {name: z[name] for name in z.files}
    except CheckpointError:
        raise
    except MemoryError:
        raise CheckpointError(f"checkpoint '{path}' declares more data than fits in memory: "
                              "it is corrupt; use another checkpoint") from None
    except Exception as e:  # zipfile, zlib, numpy format and OS errors alike: the file is bad
        reason = str(e).splitlines()[0][:80] if str(e) else type(e).__name__
        raise CheckpointError(f"checkpoint '{path}' is corrupt or not an .npz file ({reason}); "
                              "use another checkpoint or retrain") from None
    meta_bytes = arrays.pop("__meta__", None)
    if meta_bytes is None or meta_bytes.dtype != np.uint8 or meta_bytes.ndim != 1:
        raise CheckpointError(f"checkpoint '{path}' has no metadata: not written by rnnlm")
    try:
        meta = json.loads(meta_bytes.tobytes().decode())
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise CheckpointError(f"checkpoint '{path}' has unreadable metadata; it is corrupt") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint '{path}' is not an {FORMAT} file")
    if meta.get("sha256") != arrays_digest(arrays):
        raise CheckpointError(f"checkpoint '{path}' fails its checksum: it is corrupt; "
                              "use another checkpoint or retrain")
    return arrays, meta


def _check_header(z, name, path):
    """Refuse object dtypes and absurd shapes by reading the .npy header, before any allocation."""
    info = z.zip.getinfo(name + ".npy")
    with z.zip.open(info) as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(f)
        else:
            shape, _, dtype = np.lib.format.read_array_header_2_0(f)
        offset = f.tell()
    if dtype.hasobject:
        raise CheckpointError(f"checkpoint '{path}' holds an object array '{name}': refused "
                              "(it would need pickle); use a checkpoint written by rnnlm")
    count = int(np.prod(shape, dtype=np.float64))
    stored = info.file_size - offset  # bytes the entry says it holds after its header
    if count > MAX_ARRAY_ELEMENTS or count * dtype.itemsize > stored:
        raise CheckpointError(f"checkpoint '{path}' declares an absurd shape {shape} for '{name}' "
                              f"({stored} bytes stored): it is corrupt; use another checkpoint")


def param_arrays(arrays):
    """The model parameters of a checkpoint: the entries whose names have no '/'."""
    return {k: v for k, v in arrays.items() if "/" not in k}


def split_arrays(arrays, prefix):
    """{'optim/m.embed.W': a, ...} -> {'m.embed.W': a, ...} for one prefix."""
    n = len(prefix) + 1
    return {k[n:]: v for k, v in arrays.items() if k.startswith(prefix + "/")}


def join_arrays(prefix, arrays):
    return {f"{prefix}/{k}": v for k, v in arrays.items()}
