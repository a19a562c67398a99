"""What every cell shares: the input projection before the time loop, the recurrent product inside
it (forward, and with W_hᵀ backward), the weight gradients after it, and the sigmoid through tanh."""

from rnnlm import fused, mkl
from rnnlm.fused import rowsplit
from rnnlm.backend import array_module, matmul, scatter_add

from ..functional import add_grad
from ..layers import Lookup, TableGrad


def input_projection(X, W_x, b=None, out=None):
    """X W_x (+ b) for every time step at once: (T, B, D) -> (T, B, kH), one matrix product
    (written into ``out`` (T, B, kH), a contiguous array, when given). b None: the caller adds
    the bias in its time loop, where each (B, kH) block is in cache (a pass over the whole
    array cost 2.5 ms of config a's step per layer). X may be a Lookup (layers.py): then the
    product is (E W_x (+ b))[ids], the (V, kH) table's rows gathered."""
    T, B, D = X.shape
    if isinstance(X, Lookup):
        table = matmul(X.E, W_x)  # (V, kH)
        if b is not None:
            table += b
        xp = array_module(table)
        if out is None:
            return table[X.ids]
        xp.take(table, X.ids.reshape(-1), axis=0, out=out.reshape(T * B, -1))
        return out
    A = matmul(X.reshape(T * B, D), W_x, None if out is None else out.reshape(T * B, -1))
    if b is not None:
        A += b
    return A.reshape(T, B, -1)


def transposed(xp, W):
    """Wᵀ as a contiguous array. The backward loop's per-step product dA_t W_hᵀ is skinny
    ((B, kH) @ (kH, H)); on a transposed view OpenBLAS ran it at 63 GFLOP/s, on a contiguous
    copy at 95 (B 32, H 256, one thread; copy made once per window)."""
    return xp.ascontiguousarray(W.T)


def recurrent_product(xp, W, rows, transpose=False):
    """The time loop's per-step product as a function (A, out, accumulate=False) -> out:
    out = A W (A Wᵀ: transpose), or out += A W with accumulate, for A of ``rows`` rows. MKL's
    packed product when MKL is installed (W laid out once per window, rnnlm/mkl.py; accumulating
    costs no extra pass), else numpy's matmul on W (on a contiguous Wᵀ when transposed)."""
    if xp.__name__ == "numpy" and W.dtype.char in "fd" and mkl.enabled():
        return mkl.PackedProduct(xp, W, rows, transpose)
    W = transposed(xp, W) if transpose else W
    scratch = []  # the (rows, N) product before it is added, made on the first accumulate

    def product(A, out, accumulate=False):
        if not accumulate:
            return xp.matmul(A, W, out=out)
        if not scratch:
            scratch.append(xp.empty_like(out))
        out += xp.matmul(A, W, out=scratch[0])
        return out
    return product


def run_compiled(name, product, blocks, buffers, args, sums=()):
    """Run fused/timeloop.py's loop ``name`` over the row blocks (rowsplit.run: args(r0, r1,
    *block_sums), sums) when the compiled loops can take it: numpy float32 C-contiguous buffers
    (the cell's own, whose first one sets the dtype), numba on, and the product MKL's packed one
    (its address is what they call). True if it ran; False: the caller runs its Python loop."""
    loops = fused.loops(buffers[0])
    if (loops is None or not isinstance(product, mkl.PackedProduct)
            or product.dtype != buffers[0].dtype
            or not all(a.flags.c_contiguous for a in buffers)):
        return False
    rowsplit.run(loops[name], blocks, args, sums)
    return True


def loop_product(xp, G, W, transpose=False):
    """(product, blocks) for a time loop over G (T, B, ·) whose step multiplies by W (Wᵀ with
    transpose): the batch's row blocks [(r0, r1)], several, each for its own thread
    (fused/rowsplit.py), when the compiled loops can run them, else [(0, B)]; and
    recurrent_product's product for a block's rows."""
    B = G.shape[1]
    split = fused.loops(G) is not None and W.dtype == G.dtype
    blocks = rowsplit.row_blocks(B, W) if split else [(0, B)]
    return recurrent_product(xp, W, blocks[0][1], transpose), blocks


def sigmoid_halves(xp, k, H, tanh_blocks, dtype):
    """(kH,) column factors: 0.5 on the sigmoid blocks, 1 on the tanh blocks.

    σ(a) = (1 + tanh(a / 2)) / 2: with the sigmoid blocks' pre-activations halved (exact in
    floating point; the GRU halves its weights' columns once per window, the LSTM each step's
    (B, 4H) block, which costs less than copies of W_x and W_h) one tanh call covers every gate,
    followed by s = 0.5 s + 0.5 on the sigmoid blocks, 3 passes where the exp form takes 5
    (numpy 2.4, float32: 15 against 30 µs on (32, 768)). The absolute error of σ stays at float
    rounding (σ near 0 loses relative digits, which no gate product can see).
    """
    half = xp.full(k * H, 0.5, dtype)
    for j in tanh_blocks:
        half[j * H:(j + 1) * H] = 1.0
    return half


def weight_grads(X, Hprev, dA_x, dA_h, W_x, grads=None, prefix="", out=None, db=None):
    """After the time loop: dX, and dW_x, dW_h, db added into grads, each one product over T*B rows.

    dA_x (T, B, kH) is the gradient at the input projection, dA_h the gradient at the recurrent
    product (the same array; None: the caller adds dW_h itself, as the GRU does). Hprev (T, B, H)
    holds h_{t-1} at t: h0, then Hs[:-1] (the cells keep them in one buffer, so dW_h is one
    product). With grads None only dX is computed (the gradient-flow probe). ``out`` (T, B, D):
    a spent buffer of dX's shape to write dX into (the overwriting backward passes dHs). ``db``
    (kH,): the bias's gradient when the caller added it up in its time loop, else it is summed
    here.
    """
    T, B, D = X.shape
    kH = dA_x.shape[2]
    H = Hprev.shape[2]
    dAx = dA_x.reshape(T * B, kH)
    if grads is not None and dA_h is not None:
        add_grad(grads, prefix + "W_h", matmul(Hprev.reshape(T * B, H).T,
                                               dA_h.reshape(T * B, kH)))  # (H, kH)
    if isinstance(X, Lookup):
        return _table_grads(X, dAx, W_x, grads, prefix, db)
    if grads is not None:
        add_grad(grads, prefix + "W_x", matmul(X.reshape(T * B, D).T, dAx))  # (D, kH)
        add_grad(grads, prefix + "b", dAx.sum(axis=0) if db is None else db)  # (kH,)
    if out is not None and out.shape == X.shape and out.flags.c_contiguous:
        return matmul(dAx, W_x.T, out.reshape(T * B, D)).reshape(T, B, D)
    return matmul(dAx, W_x.T).reshape(T, B, D)


def _table_grads(X, dAx, W_x, grads, prefix, db):
    """weight_grads' input side for a Lookup input X (ids into E): dA's rows (T * B, kH) summed
    by id into a (V, kH) table dT, then dW_x = Eᵀ dT, db = the table's column sums, and E's own
    gradient dT W_xᵀ (V, D), returned as a TableGrad (None when grads is None: the probe wants no
    parameters)."""
    if grads is None:
        return None
    xp = array_module(dAx)
    dT = xp.zeros((X.E.shape[0], dAx.shape[1]), dAx.dtype)
    scatter_add(xp, dT, X.ids.reshape(-1), dAx)  # (V, kH)
    add_grad(grads, prefix + "W_x", matmul(X.E.T, dT))  # (D, kH)
    add_grad(grads, prefix + "b", dT.sum(axis=0) if db is None else db)
    return TableGrad(matmul(dT, W_x.T))  # (V, D)
