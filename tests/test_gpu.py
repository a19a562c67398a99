"""The same hand-written math on a GPU through CuPy (train.backend: cupy).

With CuPy and an NVIDIA GPU: every cell's model forward and backward match numpy within float32
tolerance, the float64 finite-difference gradient check passes on the device, and a short
training run on the GPU ends where the numpy run does. Without them those tests skip; what runs
everywhere is the skip path a user meets: `train.backend: cupy` without CuPy is one line naming
pip install -e '.[gpu]'.
"""

import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rnnlm.model import ModelSpec, init_params, zero_state
from rnnlm.backend import array_module, to_device
from rnnlm.model import lm
from rnnlm.model.gradcheck import TOLERANCE, relative_error
from rnnlm.nn.heads import softmax_cross_entropy

ROOT = Path(__file__).resolve().parents[1]
CELLS = ["rnn_tanh", "rnn_relu", "gru", "lstm"]


def _gpu():
    try:
        import cupy
        return cupy if cupy.cuda.runtime.getDeviceCount() > 0 else None
    except Exception:  # not installed, no driver, no device
        return None


cp = _gpu()
needs_gpu = pytest.mark.skipif(cp is None, reason="needs CuPy (pip install -e '.[gpu]') and an "
                               "NVIDIA GPU")


def _spec(cell, **kw):
    return ModelSpec(**{**dict(cell=cell, vocab_size=11, embed_size=4, hidden_size=5, layers=2,
                               dropout=0.0), **kw})


def _window(spec, dtype, B=3, T=4, seed=0):
    rng = np.random.default_rng(seed)
    params = init_params(spec, rng, dtype)
    for name, p in params.items():  # non-zero biases exercise more of the chain rule
        if name.endswith(".b") or name.endswith(".b_hn"):
            p += rng.uniform(-0.1, 0.1, p.shape).astype(dtype)
    x = rng.integers(0, spec.vocab_size, (B, T)).astype(np.int32)
    y = rng.integers(0, spec.vocab_size, (B, T)).astype(np.int32)
    state = tuple(tuple(np.abs(rng.uniform(-0.5, 0.5, s.shape)).astype(dtype) for s in layer)
                  for layer in zero_state(spec, B, dtype))
    return params, x, y, state


def _forward_backward(params, spec, x, y, state):
    logits, new_state, cache = lm.forward(params, spec, x, state)
    T, B, V = logits.shape
    yd = to_device(y, array_module(logits))
    loss, dlogits = softmax_cross_entropy(logits.reshape(T * B, V), yd.T.reshape(T * B))
    grads, norms, dstate = lm.backward(params, spec, dlogits.reshape(T, B, V), cache)
    return loss, logits, new_state, grads, norms, dstate


def _host(a):
    return cp.asnumpy(a) if cp is not None and isinstance(a, cp.ndarray) else np.asarray(a)


@needs_gpu
@pytest.mark.parametrize("cell", CELLS)
def test_cupy_forward_and_backward_match_numpy_in_float32(cell):
    spec = _spec(cell)
    params, x, y, state = _window(spec, np.float32)
    on_gpu = {k: cp.asarray(p) for k, p in params.items()}
    want = _forward_backward(params, spec, x, y, state)
    got = _forward_backward(on_gpu, spec, x, y, state)  # x, y, state shipped by lm.forward
    assert isinstance(got[1], cp.ndarray) and got[1].dtype == np.float32
    tol = dict(rtol=2e-4, atol=2e-5)
    np.testing.assert_allclose(got[0], want[0], **tol)
    np.testing.assert_allclose(_host(got[1]), want[1], **tol)
    for a, b in zip(got[2], want[2]):
        for s, t in zip(a, b):
            np.testing.assert_allclose(_host(s), t, **tol)
    assert set(got[3]) == set(want[3])
    for k in want[3]:
        np.testing.assert_allclose(_host(got[3][k]), want[3][k], err_msg=k, **tol)
    np.testing.assert_allclose(got[4], want[4], **tol)  # step norms come back to the host
    for a, b in zip(got[5], want[5]):
        for s, t in zip(a, b):
            np.testing.assert_allclose(_host(s), t, **tol)


@needs_gpu
@pytest.mark.parametrize("cell", CELLS)
def test_cupy_gradients_match_finite_differences_in_float64(cell):
    spec = dataclasses.replace(_spec(cell), dropout=0.0)
    params, x, y, state = _window(spec, np.float64, seed=1)
    params = {k: cp.asarray(p) for k, p in params.items()}

    def loss():
        logits, _, _ = lm.forward(params, spec, x, state)
        T, B, V = logits.shape
        return softmax_cross_entropy(logits.reshape(T * B, V),
                                     cp.asarray(y).T.reshape(T * B))[0]

    grads = _forward_backward(params, spec, x, y, state)[3]
    eps = 1e-4
    for name, p in params.items():
        numeric = np.zeros(p.shape)
        flat, nflat = p.reshape(-1), numeric.reshape(-1)
        for i in range(flat.size):
            old = float(flat[i])
            flat[i] = old + eps
            plus = loss()
            flat[i] = old - eps
            minus = loss()
            flat[i] = old
            nflat[i] = (plus - minus) / (2 * eps)
        assert relative_error(_host(grads[name]), numeric) < TOLERANCE, name


@needs_gpu
def test_a_cupy_run_ends_where_the_numpy_run_does(tmp_path):
    from rnnlm.config import load_config
    from rnnlm.run.checkpoint import load_checkpoint
    from rnnlm.train import train
    rng = np.random.default_rng(0)
    words = "the quick brown fox jumps over a lazy dog".split()
    (tmp_path / "corpus.txt").write_text(" ".join(rng.choice(words, 300)) + "\n")
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(f"data: {{corpus: {tmp_path / 'corpus.txt'}, valid_fraction: 0.1}}\n"
                   "model: {layers: 2, embed_size: 8, hidden_size: 12, dropout: 0.1}\n"
                   "train: {batch_size: 4, bptt: 8, max_steps: 12, eval_every: 6, "
                   "sample_length: 0, dtype: float64}\n")
    for backend in ("numpy", "cupy"):
        train(load_config(cfg, [f"train.backend={backend}"]), tmp_path / backend, progress=False)
    a, _ = load_checkpoint(tmp_path / "numpy" / "checkpoints" / "last.npz")
    b, _ = load_checkpoint(tmp_path / "cupy" / "checkpoints" / "last.npz")
    assert set(a) == set(b)
    for k in a:  # the checkpoint of a GPU run is plain numpy on disk
        assert isinstance(b[k], np.ndarray)
        np.testing.assert_allclose(b[k], a[k], rtol=1e-7, atol=1e-9, err_msg=k)


def test_cupy_backend_without_cupy_is_one_line(tmp_path):
    """Where CuPy cannot be imported, train.backend=cupy names the extra to install."""
    rng = np.random.default_rng(0)
    (tmp_path / "corpus.txt").write_text(" ".join(rng.choice(list("abcdef"), 300)) + "\n")
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(f"data: {{corpus: {tmp_path / 'corpus.txt'}}}\n"
                   "train: {backend: cupy, batch_size: 2, bptt: 4, max_steps: 2}\n")
    code = ("import sys; sys.modules['cupy'] = None\n"
            "from rnnlm.cli import main\n"
            f"sys.argv = ['rnnlm', 'train', {str(cfg)!r}, '--out', {str(tmp_path / 'run')!r}]\n"
            "main()\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, env={"PYTHONPATH": str(ROOT), "PATH": ""})
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == ("rnnlm: error: train.backend=cupy needs CuPy, which is not "
                                   "installed: pip install -e '.[gpu]' in the rnnlm checkout "
                                   "(CUDA 12), or set train.backend=numpy")
    assert not (tmp_path / "run" / "metrics.jsonl").exists()


def test_backend_choice_is_the_one_place(monkeypatch):
    from rnnlm import backend
    from rnnlm.errors import ConfigError
    assert backend.get("numpy") is np
    monkeypatch.setitem(sys.modules, "cupy", None)
    with pytest.raises(ConfigError, match=r"pip install -e '\.\[gpu\]'"):
        backend.get("cupy")
