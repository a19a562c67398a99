"""Checkpoints: arrays in one .npz, metadata as JSON inside it; no pickle anywhere.

Layout of a checkpoint file (every entry a plain numeric array):

    param/<name>      model parameters, e.g. param/embed.W, param/rnn.0.W_h
    optim/<name>      optimizer state, e.g. optim/m.head.W, optim/t
    state/<l>.<i>     carried hidden state of layer l, tensor i (h, then c for the LSTM)
    __meta__          uint8 bytes of a UTF-8 JSON object: format, step, config, tokenizer, rng,
                      data position, best validation loss, sha256 of the arrays

Writes are atomic: a temporary file in the same directory, fsync, then rename over the target,
so a crash leaves either the old file or the new one, never half of one.
"""

import hashlib
import io
import json
import os
import zipfile

import numpy as np

from .errors import CheckpointError

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
    """Write data to path through a temporary file, fsync and rename."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f".{os.path.basename(path)}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise CheckpointError(f"cannot write {path}: {e.strerror or e}; check free space and "
                              "permissions of the run directory") from None
    try:  # make the rename itself durable
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass


def save_checkpoint(path, arrays, meta):
    """arrays: {'param/...': ndarray, ...}; meta: JSON-safe dict. Atomic."""
    meta = dict(meta, format=FORMAT, sha256=arrays_digest(arrays))
    payload = dict(arrays)
    payload["__meta__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **payload)
    atomic_write_bytes(path, buf.getvalue())


def load_checkpoint(path):
    """Read and verify a checkpoint. Returns (arrays, meta). Raises CheckpointError."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint '{path}' not found: train a run first or check the path")
    try:
        with np.load(path, allow_pickle=False) as z:
            for name in z.files:
                _check_header(z, name, path)
            arrays = {name: z[name] for name in z.files}
    except CheckpointError:
        raise
    except ValueError as e:  # object arrays need pickle: refused
        raise CheckpointError(f"checkpoint '{path}' holds data that needs pickle ({e}); "
                              "rnnlm never unpickles: use a checkpoint written by rnnlm") from None
    except (OSError, zipfile.BadZipFile, EOFError, KeyError) as e:
        raise CheckpointError(f"checkpoint '{path}' is corrupt or not an .npz file ({e}); "
                              "use another checkpoint or retrain") from None
    if "__meta__" not in arrays:
        raise CheckpointError(f"checkpoint '{path}' has no metadata: not written by rnnlm")
    try:
        meta = json.loads(arrays.pop("__meta__").tobytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise CheckpointError(f"checkpoint '{path}' has unreadable metadata; it is corrupt") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint '{path}' is not an {FORMAT} file")
    if meta.get("sha256") != arrays_digest(arrays):
        raise CheckpointError(f"checkpoint '{path}' fails its checksum: it is corrupt; "
                              "use another checkpoint or retrain")
    return arrays, meta


def _check_header(z, name, path):
    """Refuse object dtypes and absurd shapes by reading the .npy header, before any allocation."""
    with z.zip.open(name + ".npy") as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(f)
        else:
            shape, _, dtype = np.lib.format.read_array_header_2_0(f)
    if dtype.hasobject:
        raise CheckpointError(f"checkpoint '{path}' holds an object array '{name}': refused "
                              "(it would need pickle); use a checkpoint written by rnnlm")
    if int(np.prod(shape, dtype=np.float64)) > MAX_ARRAY_ELEMENTS:
        raise CheckpointError(f"checkpoint '{path}' declares an absurd shape {shape} for '{name}': "
                              "it is corrupt")


def split_arrays(arrays, prefix):
    """{'param/embed.W': a, ...} -> {'embed.W': a, ...} for one prefix."""
    n = len(prefix) + 1
    return {k[n:]: v for k, v in arrays.items() if k.startswith(prefix + "/")}


def join_arrays(prefix, arrays):
    return {f"{prefix}/{k}": v for k, v in arrays.items()}
