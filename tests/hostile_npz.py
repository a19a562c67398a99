"""Hostile checkpoint files for the tests: written by hand, never by rnnlm."""

import io
import zipfile

import numpy as np


def object_array_npz(path, name="embed.W"):
    """An .npz holding an object array (loading it would need pickle)."""
    np.savez(path, **{name: np.array([{"x": 1}], dtype=object),
                      "__meta__": np.frombuffer(b"{}", np.uint8)})


def absurd_shape_npz(path, name="embed.W", shape=(1 << 40,), stored=16, descr="<f4"):
    """An .npz whose one header declares `shape` but which holds only `stored` bytes."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False,
                                               "shape": shape})
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(f"{name}.npy", buf.getvalue() + b"\0" * stored)
