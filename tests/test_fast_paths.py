"""Every optimised path against the simple one: the cells against tests/reference_cells.py (the
pre-optimisation code) in float32 and float64, backward overwriting its cache against not, and
the model's training path (head loss, overwriting backward) against the logits path."""

import os

import numpy as np
import pytest

from rnnlm import model
from rnnlm.model import InitSpec, init_layer
from rnnlm import fused, mkl
from rnnlm.nn.cells import get_cell
from rnnlm.nn.heads import softmax_cross_entropy

from reference_cells import reference

CELLS = ["rnn_tanh", "rnn_relu", "gru", "lstm"]
TOL = {np.float32: dict(rtol=2e-4, atol=2e-6), np.float64: dict(rtol=1e-10, atol=1e-13)}


def _case(cell, dtype, T=7, B=5, D=6, H=8, seed=0):
    rng = np.random.default_rng(seed)
    p = {k: v.astype(dtype) for k, v in
         init_layer(get_cell(cell), D, H, rng, InitSpec(init_scale=0.6)).items()}
    for k in p:
        if k.startswith("b"):
            p[k] += rng.uniform(-0.5, 0.5, p[k].shape).astype(dtype)
    X = (2 * rng.standard_normal((T, B, D))).astype(dtype)  # some gates near saturation
    state = tuple(rng.uniform(-0.5, 0.5, (B, H)).astype(dtype) for _ in get_cell(cell).state)
    if cell == "rnn_relu":
        state = tuple(np.abs(s) for s in state)
    dHs = rng.standard_normal((T, B, H)).astype(dtype)
    dstate = tuple(rng.standard_normal((B, H)).astype(dtype) for _ in state)
    return p, X, state, dHs, dstate


@pytest.fixture(params=["numpy", "mkl"])
def blas(request, monkeypatch):
    """The recurrent product on numpy's matmul, then on MKL's packed product (when installed)."""
    if request.param == "numpy":
        monkeypatch.setattr(mkl, "_lib", False)
    elif not mkl.enabled():
        pytest.skip("MKL is off (RNNLM_MKL=0) or not installed (pip install -e '.[mkl]')")
    return request.param


@pytest.fixture(params=["numpy", "numba"])
def gate_math(request, monkeypatch):
    """The cells' per-step arithmetic in numpy, then in numba's compiled kernels (when installed)."""
    if request.param == "numpy":
        monkeypatch.setattr(fused, "_kernels", False)
    elif fused.kernels(np.zeros(1, np.float32)) is None:
        pytest.skip("numba is off (RNNLM_NUMBA=0) or not installed (pip install -e '.[fast]')")
    return request.param


def _close(a, b, dtype, what):
    np.testing.assert_allclose(a, b, err_msg=what, **TOL[dtype])


@pytest.mark.parametrize("D", [6, 8])  # 8 = H: the RNN writes dX over its spent outputs
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cell", CELLS)
def test_cell_equals_the_reference(cell, dtype, D, blas, gate_math):
    if gate_math == "numba" and (cell not in ("lstm", "gru") or dtype != np.float32):
        pytest.skip("numba kernels: the LSTM and GRU in float32 only")
    p, X, state, dHs, dstate = _case(cell, dtype, D=D)
    ref_fwd, ref_bwd = reference(cell)
    Hs0, st0, cache0 = ref_fwd(p, X, state)
    g0 = {}
    dX0, ds0, n0 = ref_bwd(p, dHs, dstate, cache0, g0)
    for overwrite in (False, True):
        c = get_cell(cell)
        Hs, st, cache = c.forward(p, X, state)
        assert Hs.dtype == dtype
        _close(Hs, Hs0, dtype, "Hs")
        for a, b in zip(st, st0):
            _close(a, b, dtype, "state out")
        dstate_copy = tuple(s.copy() for s in dstate)
        g = {}
        dX, ds, norms = c.backward(p, dHs, dstate, cache, g, "", overwrite)
        for a, b in zip(dstate, dstate_copy):  # the caller's arrays are left alone
            np.testing.assert_array_equal(a, b)
        _close(dX, dX0, dtype, "dX")
        if overwrite and cell.startswith("rnn") and D == dHs.shape[2]:  # D = H
            assert np.shares_memory(dX, cache.Hext)  # no new (T, B, H) array for dX
        _close(norms, n0, dtype, "step norms")
        for a, b in zip(ds, ds0):
            _close(a, b, dtype, "dstate")
        assert set(g) == set(g0)
        for k in g0:
            _close(g[k], g0[k], dtype, k)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_flow_only_backward_leaves_the_activations(cell):
    """The probe reads the gate activations after its backward (grads None, no overwrite)."""
    p, X, state, dHs, dstate = _case(cell, np.float64)
    c = get_cell(cell)
    _, _, cache = c.forward(p, X, state)
    G = c.activations(cache).copy()
    c.backward(p, dHs, dstate, cache)
    np.testing.assert_array_equal(c.activations(cache), G)


@pytest.mark.parametrize("head", ["full", "adaptive"])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_training_path_equals_logits_path_float32(cell, head):
    spec = model.ModelSpec(cell, 40, 6, 8, 2, head=head,
                           adaptive_cutoffs=(10, 25) if head == "adaptive" else ())
    rng = np.random.default_rng(3)
    params = model.init_params(spec, rng, np.float32)
    x, y = rng.integers(0, 40, (4, 9)), rng.integers(0, 40, (4, 9))
    state = tuple(tuple(s + 0.3 for s in layer) for layer in model.zero_state(spec, 4))
    loss, grads, new_state, norms = model.loss_and_grads(params, spec, x, y, state)
    logits, st2, cache = model.forward(params, spec, x, state)
    T, B, V = logits.shape
    loss2, dlogits = softmax_cross_entropy(logits.reshape(T * B, V), y.T.reshape(-1))
    grads2, norms2, _ = model.backward(params, spec, dlogits.reshape(T, B, V), cache)
    assert loss == pytest.approx(loss2, rel=1e-5)
    np.testing.assert_allclose(norms, norms2, rtol=1e-4, atol=1e-7)
    assert set(grads) == set(grads2) == set(params)
    for k in grads:
        np.testing.assert_allclose(grads[k], grads2[k], rtol=2e-3, atol=2e-6, err_msg=k)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("transpose", [False, True])
def test_packed_product_equals_matmul(dtype, transpose):
    if not mkl.enabled():
        pytest.skip("MKL is off (RNNLM_MKL=0) or not installed (pip install -e '.[mkl]')")
    rng = np.random.default_rng(1)
    W = rng.standard_normal((24, 40) if transpose else (40, 24)).astype(dtype)  # A (5, 40) -> (5, 24)
    Wm = W.T if transpose else W
    prod = mkl.PackedProduct(np, W, 5, transpose)
    big = rng.standard_normal((5, 50)).astype(dtype)
    cases = [rng.standard_normal((5, 40)).astype(dtype),  # the packed path
             big[:, 3:43],  # rows 50 apart: still packed (row stride passed to MKL)
             np.asfortranarray(rng.standard_normal((5, 40)).astype(dtype)),  # numpy's matmul
             rng.standard_normal((3, 40)).astype(dtype)]  # other rows: numpy's matmul
    for A in cases:
        out = np.full((A.shape[0], 24), np.nan, dtype)
        assert prod(A, out) is out
        np.testing.assert_allclose(out, A @ Wm, **TOL[dtype])
    for A in cases[:3]:  # out += A W: MKL's beta = 1 (numpy's matmul and add for the last)
        out = np.ones((5, 24), dtype)
        assert prod(A, out, accumulate=True) is out
        np.testing.assert_allclose(out, 1 + A @ Wm, **TOL[dtype])
    wide = np.full((5, 30), np.nan, dtype)
    prod(cases[0], wide[:, 2:26])  # out with rows 30 apart
    np.testing.assert_allclose(wide[:, 2:26], cases[0] @ Wm, **TOL[dtype])
    assert np.isnan(wide[:, :2]).all() and np.isnan(wide[:, 26:]).all()  # nothing else written


@pytest.mark.parametrize("shape", [(32, 512, 2048), (32, 2048, 512), (20, 200, 800)])
@pytest.mark.parametrize("transpose", [False, True])
def test_pack_writes_no_more_than_the_bytes_counted(shape, transpose):
    """MKL asks for W plus ~8.5 MiB of pack room; the memory figure counts mkl.written_bytes(W).
    Held true here, page by page, on the installed MKL: pack and compute touch no more."""
    if not mkl.enabled():
        pytest.skip("MKL is off (RNNLM_MKL=0) or not installed (pip install -e '.[mkl]')")
    f = mkl.library()["f"]
    M, N, K = shape
    rng = np.random.default_rng(0)
    W = rng.standard_normal((N, K) if transpose else (K, N)).astype(np.float32)
    size = f.pack_size(mkl._B_MATRIX, M, N, K)
    page = mkl._PAGE
    raw = np.empty(size + 2 * page, np.uint8)
    start = -raw.ctypes.data % page
    buf = raw[start:start + size].view(np.uint32)  # page-aligned, like the mapped buffers
    buf[:] = 0xDEADBEEF
    f.pack(mkl._ROW_MAJOR, mkl._B_MATRIX, mkl._TRANS if transpose else mkl._NO_TRANS, M, N, K,
           1.0, W.ctypes.data, W.shape[1], buf.ctypes.data)
    A = rng.standard_normal((M, K)).astype(np.float32)
    C = np.empty((M, N), np.float32)
    f.compute(mkl._ROW_MAJOR, mkl._NO_TRANS, mkl._PACKED, M, N, K, A.ctypes.data, K,
              buf.ctypes.data, K, 0.0, C.ctypes.data, N)
    np.testing.assert_allclose(C, A @ (W.T if transpose else W), rtol=1e-4, atol=1e-3)
    touched = np.unique(np.nonzero(buf != 0xDEADBEEF)[0] * 4 // page)
    assert len(touched) * page <= mkl.written_bytes(W) < size


def test_pack_buffers_traced_while_held_and_reused():
    import gc
    import tracemalloc
    if not mkl.enabled():
        pytest.skip("MKL is off (RNNLM_MKL=0) or not installed (pip install -e '.[mkl]')")
    W = np.ones((300, 1200), np.float32)
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        prod = mkl.PackedProduct(np, W, 16)
        assert tracemalloc.get_traced_memory()[0] - base >= mkl.written_bytes(W)
        first = prod.address
        del prod
        gc.collect()
        assert tracemalloc.get_traced_memory()[0] - base < 4096  # given back: untraced
        again = mkl.PackedProduct(np, W, 16)
        assert again.address == first  # the same mapped buffer, its pages already in
        np.testing.assert_allclose(again(np.ones((16, 300), np.float32), np.empty((16, 1200), np.float32)), 300.0)
        for n in range(1, 8):  # buffers of many sizes given back: only a few are kept mapped
            mkl.PackedProduct(np, np.ones((64 * n, 64), np.float32), 4)
        gc.collect()
        assert len(mkl._spare) <= mkl._SPARE_KEPT
    finally:
        tracemalloc.stop()


def test_compiled_tanh_within_a_few_ulp_and_nan_kept():
    """The forward step's own tanh (a rational function numba vectorises) against float64 tanh:
    within 8 units in the last place of float32 everywhere (fused/scalar.py's fit: 6), ±1 beyond ±9,
    odd, and a NaN stays a NaN for the trainer's finiteness check."""
    k = fused.kernels(np.zeros(1, np.float32))
    if k is None:
        pytest.skip("numba is off (RNNLM_NUMBA=0) or not installed (pip install -e '.[fast]')")
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-12, 12, 200_000), 10.0 ** rng.uniform(-10, 0, 50_000),
                        -(10.0 ** rng.uniform(-10, 0, 50_000))]).astype(np.float32)
    out = np.empty_like(x)
    k["tanh"](x, out)
    exact = np.tanh(x.astype(np.float64))
    ulp = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    assert (np.abs(out - exact) / ulp).max() <= 8
    back = np.empty_like(x)
    k["tanh"](-x, back)
    np.testing.assert_array_equal(back, -out)
    odd = np.array([np.nan, np.inf, -np.inf, 1e30, -1e30, 0.0], np.float32)
    got = np.empty_like(odd)
    k["tanh"](odd, got)
    assert np.isnan(got[0])
    np.testing.assert_array_equal(got[1:], [1, -1, 1, -1, 0])


def test_numba_switched_off_by_the_environment(monkeypatch):
    monkeypatch.setattr(fused, "_kernels", None)
    monkeypatch.setenv("RNNLM_NUMBA", "0")
    assert not fused.available()
    assert fused.kernels(np.zeros(1, np.float32)) is None


def test_mkl_switched_off_by_the_environment(monkeypatch):
    monkeypatch.setattr(mkl, "_lib", None)
    monkeypatch.setenv("RNNLM_MKL", "0")
    assert not mkl.enabled()
    monkeypatch.delenv("OPENBLAS_THREAD_TIMEOUT", raising=False)
    monkeypatch.delenv("KMP_BLOCKTIME", raising=False)
    mkl.quiet_idle_threads()
    assert "OPENBLAS_THREAD_TIMEOUT" not in os.environ and "KMP_BLOCKTIME" not in os.environ


@pytest.mark.skipif(not mkl.available(), reason="MKL not installed")
def test_idle_threads_quieted_unless_the_user_chose(monkeypatch):
    monkeypatch.delenv("OPENBLAS_THREAD_TIMEOUT", raising=False)
    monkeypatch.setenv("KMP_BLOCKTIME", "50")  # the user's choice stays
    mkl.quiet_idle_threads()
    assert os.environ["OPENBLAS_THREAD_TIMEOUT"] == "4" and os.environ["KMP_BLOCKTIME"] == "50"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matmul_equals_numpys_on_every_layout(dtype, blas):
    from rnnlm.backend import matmul
    rng = np.random.default_rng(2)
    A = rng.standard_normal((7, 5)).astype(dtype)
    B = rng.standard_normal((5, 9)).astype(dtype)
    wide = rng.standard_normal((7, 12)).astype(dtype)
    layouts = {"C": lambda M: M, "F": np.asfortranarray, "T view": lambda M: M.T.copy().T,
               "strided rows": lambda M: np.pad(M, ((0, 0), (1, 2)))[:, 1:-2]}
    for (na, fa), (nb, fb) in [(a, b) for a in layouts.items() for b in layouts.items()]:
        np.testing.assert_allclose(matmul(fa(A), fb(B)), A @ B, err_msg=f"{na} @ {nb}", **TOL[dtype])
    out = wide[:, 2:11]  # rows 12 apart
    before = wide.copy()
    assert matmul(A, B, out) is not None
    np.testing.assert_allclose(wide[:, 2:11], A @ B, **TOL[dtype])
    np.testing.assert_array_equal(wide[:, :2], before[:, :2])  # nothing outside out written
    np.testing.assert_array_equal(wide[:, 11:], before[:, 11:])
    np.testing.assert_allclose(matmul(A[::2], B[:, ::3]), A[::2] @ B[:, ::3], **TOL[dtype])  # numpy's
    np.testing.assert_array_equal(matmul(A[:, :0], B[:0]), np.zeros((7, 9), dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_axpy_equals_numpys(dtype, blas):
    from rnnlm.backend import axpy
    rng = np.random.default_rng(3)
    for shape in [(5,), (300, 500), (1 << 16,)]:  # one chunk, chunks with a short last one
        x, y = (rng.standard_normal(shape).astype(dtype) for _ in range(2))
        want = y - dtype(0.3) * x
        assert axpy(-0.3, x, y) is y
        np.testing.assert_allclose(y, want, **TOL[dtype])
    y = rng.standard_normal((6, 8)).astype(dtype)
    x = rng.standard_normal((8, 6)).astype(dtype).T  # not contiguous: numpy's expression
    want = y + dtype(2.0) * x
    np.testing.assert_allclose(axpy(2.0, x, y), want, **TOL[dtype])


@pytest.mark.skipif(not __import__("sys").platform.startswith("linux"), reason="glibc's mallopt")
def test_glibc_keeps_freed_memory_in_a_child():
    import subprocess
    import sys
    code = "from rnnlm.process import keep_freed_memory; print(keep_freed_memory())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


@pytest.mark.parametrize("threads", ["2", "3", "8"])
def test_softmax_split_over_threads_equals_one_block(threads, monkeypatch):
    """The in-place softmax and nll split big logits by rows over host threads (backend.by_rows):
    the same values as the one-block path, row for row."""
    from rnnlm import backend
    from rnnlm.nn.heads.softmax import nll_, softmax_cross_entropy_
    rng = np.random.default_rng(3)
    N, V = 3201, 1000  # 3.2 million elements: at most 3 blocks of 2**20
    Z = (4 * rng.standard_normal((N, V))).astype(np.float32)
    b = rng.standard_normal(V).astype(np.float32)
    y = rng.integers(0, V, N)
    results = {}
    for count in ("1", threads):
        monkeypatch.setenv("MKL_NUM_THREADS", count)
        blocks = backend.by_rows(lambda s: (s.start, s.stop), Z)
        G = Z.copy()
        results[count] = (softmax_cross_entropy_(G, y, N, b), G, nll_(Z.copy(), y, b), blocks)
    one, split = results["1"], results[threads]
    np.testing.assert_array_equal(one[2], nll_(Z + b, y))  # the bias is added to each row
    assert one[3] == [(0, N)]
    bounds = split[3]
    assert len(bounds) == min(int(threads), 3)
    assert bounds[0][0] == 0 and bounds[-1][1] == N
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))  # contiguous, in row order
    np.testing.assert_allclose(split[0], one[0], rtol=1e-5)
    np.testing.assert_array_equal(split[1], one[1])  # row-wise math: the same floats
    np.testing.assert_array_equal(split[2], one[2])


@pytest.mark.parametrize("N, V", [(7, 3), (50, 65), (33, 1001)])
def test_softmax_kernel_equals_the_numpy_path(N, V, monkeypatch):
    """numba's in-place softmax gradient (its own vectorised exp) against numpy's: the same
    gradient to float32 rounding, its column sums, the same summed loss and evaluation's
    per-row loss, confident rows included (logits far below the row's best are floored, not made
    subnormal), and a NaN logit makes the loss NaN."""
    from rnnlm.nn.heads.softmax import nll_, softmax_cross_entropy_
    if fused.kernels(np.zeros(1, np.float32)) is None:
        pytest.skip("numba is off (RNNLM_NUMBA=0) or not installed (pip install -e '.[fast]')")
    rng = np.random.default_rng(N)
    Z = (6 * rng.standard_normal((N, V))).astype(np.float32)
    Z[0] *= 40  # a confident row: most of it 100s of nats below its best
    b = rng.standard_normal(V).astype(np.float32)
    y = rng.integers(0, V, N)
    out = {}
    for path in ("numba", "numpy"):
        if path == "numpy":
            monkeypatch.setattr(fused, "_kernels", False)
        G = Z.copy()
        total, sums = softmax_cross_entropy_(G, y, N, b, column_sums=True)
        out[path] = (float(total), G, sums)
    assert out["numba"][0] == pytest.approx(out["numpy"][0], rel=1e-6)
    np.testing.assert_allclose(out["numba"][1], out["numpy"][1], rtol=2e-6, atol=1e-12)
    np.testing.assert_allclose(out["numba"][2], out["numpy"][2], rtol=1e-4, atol=1e-7)  # the bias's
    np.testing.assert_allclose(out["numba"][2], out["numba"][1].sum(axis=0), rtol=1e-4, atol=1e-7)
    assert ((np.abs(out["numba"][1]) > 0) & (np.abs(out["numba"][1]) < 1.2e-38)).sum() == 0
    monkeypatch.undo()
    nll = nll_(Z.copy(), y, b)  # evaluation's one pass, against numpy's
    monkeypatch.setattr(fused, "_kernels", False)
    np.testing.assert_allclose(nll, nll_(Z.copy(), y, b), rtol=1e-6, atol=1e-6)
    monkeypatch.undo()
    Z[N // 2, V // 2] = np.nan
    assert np.isnan(nll_(Z.copy(), y, b)[N // 2])
    assert np.isnan(float(softmax_cross_entropy_(Z, y, N, b)))


@pytest.mark.parametrize("n", [1, 2, 50, 2000])
def test_scatter_add_by_rows_equals_add_at(n):
    """backend.scatter_add sums each index's rows then adds once (sorted, add.reduceat): the same
    as np.add.at's element-by-element accumulation, repeated indices included."""
    from rnnlm.backend import scatter_add
    rng = np.random.default_rng(n)
    ids = rng.integers(0, 37, n)  # many repeats once n > 37
    values = rng.standard_normal((n, 40))  # n = 2000: three blocks of 16 columns (256 KiB)
    expected = rng.standard_normal((40, 40))
    target = expected.copy()
    np.add.at(expected, ids, values)
    scatter_add(np, target, ids, values)
    np.testing.assert_allclose(target, expected, rtol=1e-12, atol=1e-12)
    flat = np.zeros(40)
    scatter_add(np, flat, ids, values[:, 0])  # 1-d: np.add.at itself
    np.testing.assert_allclose(flat, np.bincount(ids, values[:, 0], minlength=40))
    target32, expected32 = (expected.astype(np.float32) for _ in range(2))  # numba's loop
    np.add.at(expected32, ids, values.astype(np.float32))
    scatter_add(np, target32, ids, values.astype(np.float32))
    np.testing.assert_array_equal(target32, expected32)  # np.add.at's order: the same floats


@pytest.mark.parametrize("cls, wd", [("Adam", 0.0), ("Adam", 0.1), ("AdamW", 0.1)])
def test_adam_kernel_is_the_numpy_update_bit_for_bit(cls, wd, monkeypatch):
    """numba's one-pass Adam rounds each operation as the numpy path does, in its order: the same
    floats, so a run resumes exactly with numba switched on or off."""
    if fused.kernels(np.zeros(1, np.float32)) is None:
        pytest.skip("numba is off (RNNLM_NUMBA=0) or not installed (pip install -e '.[fast]')")
    from rnnlm.optim.adam import Adam
    from rnnlm.optim.adamw import AdamW
    Opt = {"Adam": Adam, "AdamW": AdamW}[cls]
    rng = np.random.default_rng(7)
    start = {"W": rng.standard_normal((30, 20)).astype(np.float32),
             "b": rng.standard_normal(20).astype(np.float32)}
    grads = [{k: (0.1 * rng.standard_normal(p.shape)).astype(np.float32) for k, p in start.items()}
             for _ in range(4)]
    results = []
    for kernels in (None, False):  # numba's kernels, then numpy's path
        monkeypatch.setattr(fused, "_kernels", kernels)
        params = {k: p.copy() for k, p in start.items()}
        opt = Opt(params, weight_decay=wd)
        for g in grads:
            opt.step(params, {k: a.copy() for k, a in g.items()}, 3e-3)
        results.append((params, opt.m, opt.v))
    assert fused._kernels is False  # the second run was numpy's
    for a, b in zip(*results):
        for k in start:
            np.testing.assert_array_equal(a[k], b[k])
    assert not np.array_equal(results[0][0]["W"], start["W"])


def _layer_problem(rng, T, B, D, H, cell="lstm"):
    """(p, X, state, dHs, dstate) of one float32 LSTM, GRU or RNN layer, random."""
    k, states = {"lstm": (4, 2), "gru": (3, 1)}.get(cell, (1, 1))
    p = {"W_x": rng.standard_normal((D, k * H)).astype(np.float32) * 0.3,
         "W_h": rng.standard_normal((H, k * H)).astype(np.float32) * 0.3,
         "b": rng.standard_normal(k * H).astype(np.float32)}
    if cell == "gru":
        p["b_hn"] = rng.standard_normal(H).astype(np.float32)
    X = rng.standard_normal((T, B, D)).astype(np.float32)
    state = tuple(rng.standard_normal((B, H)).astype(np.float32) for _ in range(states))
    dHs = rng.standard_normal((T, B, H)).astype(np.float32)
    dstate = tuple(rng.standard_normal((B, H)).astype(np.float32) for _ in range(states))
    return p, X, state, dHs, dstate


def _forward_backward(cell, p, X, state, dHs, dstate):
    """Hs, last state, dX, dstate_in, step norms and grads of one window through the cell."""
    from rnnlm.nn.cells import get_cell
    module = get_cell(cell)
    Hs, last, cache = module.forward(p, X, state)
    grads = {}
    dX, dstate_in, norms = module.backward(p, dHs.copy(), dstate, cache, grads)
    return Hs, last, dX, dstate_in, norms, grads


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn_tanh", "rnn_relu"])
def test_compiled_time_loop_equals_the_python_loop(monkeypatch, cell):
    """fused.loops' time loops (MKL's packed product called from numba) against the Python loop:
    the LSTM's and GRU's run the same kernels in the same order, so the same floats; the RNN's
    Python loop is numpy's (its tanh, its dot for the step norms), so float32 rounding apart."""
    if fused.loops(np.zeros(1, np.float32)) is None:
        pytest.skip("needs numba and MKL (pip install -e '.[fast,mkl]')")
    problem = _layer_problem(np.random.default_rng(3), T=7, B=5, D=6, H=8, cell=cell)
    calls = []
    for name, kernel in list(fused._loops.items()):  # count the compiled loops' runs
        monkeypatch.setitem(fused._loops, name, lambda *a, k=kernel, n=name: (calls.append(n),
                                                                            k(*a))[1])
    runs = []
    for compiled in (True, False):
        if not compiled:
            loop = "rnn" if cell.startswith("rnn") else cell
            assert calls == [f"{loop}_forward_loop", f"{loop}_backward_loop"]  # not Python's
            monkeypatch.setattr(fused, "_loops", False)
        Hs, last, dX, dstate_in, norms, grads = _forward_backward(cell, *problem)
        runs.append((Hs, *last, dX, *dstate_in, norms, *grads.values()))
    for a, b in zip(*runs):
        if cell.startswith("rnn"):  # to float32 rounding of the array's scale
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-5 * float(np.abs(b).max()))
        else:
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn_tanh"])
def test_time_loop_split_by_rows_over_threads_equals_one_loop(monkeypatch, cell):
    """fused/rowsplit.py: the compiled loops run on row blocks, each on its own thread, give one
    loop's activations bit for bit and its gradients to float32 rounding (the bias gradient and
    step norms are added up block by block)."""
    from rnnlm.fused import rowsplit
    if fused.loops(np.zeros(1, np.float32)) is None:
        pytest.skip("needs numba and MKL (pip install -e '.[fast,mkl]')")
    problem = _layer_problem(np.random.default_rng(5), T=6, B=9, D=5, H=7, cell=cell)
    threads = []
    run = rowsplit.run
    monkeypatch.setattr(rowsplit, "run", lambda loop, blocks, args, sums=(): (
        threads.append(len(blocks)), run(loop, blocks, args, sums))[1])
    runs = []
    for blocks in ([(0, 3), (3, 6), (6, 9)], [(0, 9)]):
        monkeypatch.setattr(rowsplit, "row_blocks", lambda B, W, b=blocks: b)
        Hs, last, dX, dstate_in, norms, grads = _forward_backward(cell, *problem)
        runs.append(((Hs, *last), (dX, *dstate_in, *grads.values()), norms))
    assert threads == [3, 3, 1, 1]
    (exact, approx, norms), (exact1, approx1, norms1) = runs
    for a, b in zip(exact, exact1):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(approx, approx1):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(norms, norms1, rtol=1e-6)  # each block's sums in float32


def test_row_blocks_split_the_batch_only_where_it_pays(monkeypatch):
    """One block per MKL thread, equal, of at least MIN_ROWS rows, for a W_h small enough that
    each thread keeps it in its own cache; else one block."""
    from rnnlm import mkl
    from rnnlm.fused import rowsplit
    small = np.zeros((256, 1024), np.float32)  # 1 MiB: config default's W_h
    large = np.zeros((512, 2048), np.float32)  # 4 MiB: config a's
    monkeypatch.setattr(mkl, "threads", lambda: 2)
    assert rowsplit.row_blocks(32, small) == [(0, 16), (16, 32)]
    assert rowsplit.row_blocks(32, large) == [(0, 32)]
    assert rowsplit.row_blocks(20, small) == [(0, 20)]  # 10-row blocks: too few rows
    assert rowsplit.row_blocks(33, small) == [(0, 33)]  # no equal split
    monkeypatch.setattr(mkl, "threads", lambda: 1)
    assert rowsplit.row_blocks(32, small) == [(0, 32)]


def test_compiled_kernels_are_loaded_from_the_disk_cache(tmp_path):
    """A second process finds every kernel in numba's disk cache: nothing compiles again and no
    cache file is added (a kernel holding a compiled function in its closure missed the cache
    every time: each process recompiled and wrote new files)."""
    if fused.kernels(np.zeros(1, np.float32)) is None:
        pytest.skip("numba is off (RNNLM_NUMBA=0) or not installed (pip install -e '.[fast]')")
    import subprocess
    import sys
    code = ("import numpy as np\nfrom rnnlm.bench import NumpyStep\n"
            "for name in ('default', 'd-gru', 'b-adaptive'):\n    NumpyStep(name)()\n")
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path), OMP_NUM_THREADS="1",
               MKL_NUM_THREADS="1")

    def files():
        subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=600)
        return sorted(p.name for p in tmp_path.rglob("*.nbc"))
    first = files()
    assert first and files() == first
