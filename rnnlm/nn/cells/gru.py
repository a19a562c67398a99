"""GRU, fused gates in the order [r, z, n], PyTorch's variant (equations in cells/__init__.py).

The reset gate multiplies ``h_{t-1} W_h[n] + b_hn`` after the product, so the recurrent product of
all three blocks stays one fused matrix product per step. As in the LSTM: no allocation per step,
activations written over the pre-activations, one tanh call for all gates, W_hᵀ contiguous in
the backward, and with ``overwrite=True`` the input-side gradient written over the activations
(and the n block below over HN).
The gradient at the recurrent product differs from it only in the n block (by the reset gate),
so only that block, (T, B, H), is kept for dW_h and b_hn.
"""

from typing import NamedTuple

from rnnlm import fused
from rnnlm.backend import array_module, matmul

from ..functional import add_grad, sigmoid
from .base import Cell
from .common import input_projection, loop_product, run_compiled, sigmoid_halves, weight_grads


class GRUCache(NamedTuple):
    X: object  # (T, B, D) the window's inputs, or a Lookup of them (layers.py)
    G: object  # (T, B, 3H) activations r, z, n (the input-side gradient after an overwriting backward)
    HN: object  # (T, B, H) h_{t-1} W_h[n] + b_hn
    Hext: object  # (T + 1, B, H) h_0 (carried in), then h_1 .. h_T (the layer's output)


def forward(p, X, state):
    xp = array_module(p["W_h"])  # X may be a Lookup (layers.py), not an array
    (h0,) = state
    T, B, _ = X.shape
    H = h0.shape[1]
    half = sigmoid_halves(xp, 3, H, (2,), X.dtype)  # (3H,) 0.5 on r, z
    G = input_projection(X, p["W_x"] * half, p["b"] * half)  # (T, B, 3H) input side, r z halved
    W_h, blocks = loop_product(xp, G, p["W_h"] * half)  # h_{t-1} W_h; each thread's rows
    b_hn = p["b_hn"]
    HN = xp.empty((T, B, H), X.dtype)  # h_{t-1} W_h[n] + b_hn, kept for backward
    Hext = xp.empty((T + 1, B, H), X.dtype)
    Hext[0] = h0
    gh = xp.empty((B, 3 * H), X.dtype)  # h_{t-1} W_h
    if not run_compiled("gru_forward_loop", W_h, blocks, (G, gh, HN, Hext),
                        lambda r0, r1: (G, gh, b_hn, HN, Hext, W_h.address, r0, r1)):
        kernels = fused.kernels(G)  # numba's one pass for the step's arithmetic, if any
        for t in range(T):
            g, h = G[t], Hext[t]
            W_h(h, gh)
            if kernels:
                kernels["gru_forward"](g, gh, b_hn, HN[t], h, Hext[t + 1])
                continue
            rz = g[:, :2 * H]
            rz += gh[:, :2 * H]
            xp.tanh(rz, out=rz)
            rz *= 0.5
            rz += 0.5  # σ(a) = (1 + tanh(a / 2)) / 2
            hn = xp.add(gh[:, 2 * H:], b_hn, out=HN[t])
            n = g[:, 2 * H:]
            n += xp.multiply(g[:, :H], hn, out=gh[:, :H])  # x W_x[n] + b[n] + r ⊙ hn
            xp.tanh(n, out=n)
            hs = xp.subtract(h, n, out=Hext[t + 1])  # h_t = n + z ⊙ (h_{t-1} - n)
            hs *= g[:, H:2 * H]
            hs += n
    Hs = Hext[1:]
    return Hs, (Hs[-1].copy(),), GRUCache(X, G, HN, Hext)


def backward(p, dHs, dstate_out, cache, grads=None, prefix="", overwrite=False):
    xp = array_module(dHs)
    X, G, HN, Hext = cache
    T, B, H3 = G.shape
    H = H3 // 3
    W_hT, blocks = loop_product(xp, G, p["W_h"], transpose=True)  # dgh_t W_hᵀ, (3H, H)
    dGX = G if overwrite else xp.empty_like(G)  # (T, B, 3H) gradient at the input-side pre-acts
    dGHn = HN if overwrite else xp.empty_like(HN)  # n block of the gradient at h_{t-1} W_h
    sq = xp.zeros(T)  # ‖∂L/∂h_t‖², kept on the device until the window is done
    dh_next = xp.array(dstate_out[0], copy=True)  # (B, H) a buffer we own
    direct = xp.empty_like(dh_next)  # dh ⊙ z: the direct path h_t = ... + z ⊙ h_{t-1}
    dgh = xp.empty((B, 3 * H), G.dtype)  # the gradient at h_{t-1} W_h of this step
    if not run_compiled("gru_backward_loop", W_hT, blocks,
                        (G, dGX, HN, dGHn, Hext, dh_next, dgh, direct),
                        lambda r0, r1, sq: (G, dGX, HN, dGHn, Hext, dHs, dh_next, dgh, direct,
                                            sq, W_hT.address, r0, r1), sums=(sq,)):
        kernels = fused.kernels(G)  # numba's one pass for the step's arithmetic, if any
        backward_step = kernels["gru_backward"] if kernels else _backward_step(xp, B, H, G.dtype)
        for t in range(T - 1, -1, -1):
            # G[t] and dGX[t] are the same memory when overwriting (HN[t] and dGHn[t] too): every
            # read comes first
            sq[t] = backward_step(G[t], dGX[t], HN[t], dGHn[t], Hext[t], dHs[t], dh_next, dgh,
                                  direct)
            W_hT(dgh, dh_next)
            dh_next += direct
    del W_hT  # its packed copy (MKL) is freed before weight_grads allocates
    dX = weight_grads(X, Hext[:-1], dGX, None, p["W_x"], grads, prefix,
                      dHs if overwrite else None)
    if grads is not None:
        N = T * B
        Hprev = Hext[:-1].reshape(N, H).T  # (H, N)
        dW_h = xp.empty((H, H3), G.dtype)
        matmul(Hprev, dGX.reshape(N, H3)[:, :2 * H], dW_h[:, :2 * H])  # r, z as dGX
        matmul(Hprev, dGHn.reshape(N, H), dW_h[:, 2 * H:])
        add_grad(grads, prefix + "W_h", dW_h)
        add_grad(grads, prefix + "b_hn", dGHn.sum(axis=(0, 1)))
    return dX, (dh_next,), xp.sqrt(sq)


def _backward_step(xp, B, H, dtype):
    """The numpy backward step, with the signature of fused/gates.py's compiled one: step(g, dx, hn,
    dhn, h_prev, dh_in, dh_next, dgh, direct) writes dx (B, 3H) (may be g itself), dhn (may be
    hn itself), dgh (B, 3H) and direct = dh ⊙ z, and returns ‖∂L/∂h_t‖²; its (B, ·) scratch
    buffers are made once per window."""
    dh, dan, dz = (xp.empty((B, H), dtype) for _ in range(3))
    sd = xp.empty((B, 2 * H), dtype)  # σ' of r, z

    def step(g, dx, hn, dhn, h_prev, dh_in, dh_next, dgh, direct):
        r, z, n = g[:, :H], g[:, H:2 * H], g[:, 2 * H:]
        xp.add(dh_in, dh_next, out=dh)
        sq = xp.vdot(dh, dh)  # Σ dh², one BLAS dot, stays an array
        xp.multiply(n, n, out=dan)
        xp.subtract(1.0, dan, out=dan)
        xp.subtract(1.0, z, out=dz)
        xp.multiply(dan, dz, out=dan)
        xp.multiply(dan, dh, out=dan)  # through n: dh ⊙ (1 - z) ⊙ (1 - n²)
        xp.subtract(h_prev, n, out=dz)
        xp.multiply(dz, dh, out=dz)  # ∂/∂z before σ'
        xp.multiply(dan, r, out=dgh[:, 2 * H:])  # the reset gate scales the n block's product
        s = g[:, :2 * H]
        xp.subtract(1.0, s, out=sd)
        xp.multiply(sd, s, out=sd)  # σ' of r and z
        xp.multiply(dh, z, out=direct)  # the direct path h_t = ... + z ⊙ h_{t-1}
        xp.multiply(dan, hn, out=dx[:, :H])  # ∂/∂r
        dx[:, H:2 * H] = dz
        dx[:, 2 * H:] = dan
        dx[:, :2 * H] *= sd
        dgh[:, :2 * H] = dx[:, :2 * H]
        dhn[...] = dgh[:, 2 * H:]
        return sq
    return step


def step(p, x, state):
    """One time step without a cache, for sampling: x (B, D) -> (h,). The equations of forward
    written plainly (tests hold the two equal)."""
    xp = array_module(x)
    (h,) = state
    H = h.shape[1]
    gx = x @ p["W_x"]  # (B, 3H)
    gx += p["b"]
    gh = h @ p["W_h"]  # (B, 3H)
    rz = sigmoid(gx[:, :2 * H] + gh[:, :2 * H])
    n = xp.tanh(gx[:, 2 * H:] + rz[:, :H] * (gh[:, 2 * H:] + p["b_hn"]))
    return (n + rz[:, H:] * (h - n),)


GRU = Cell(name="gru", gates="rzn", state=("h",), forward=forward, backward=backward,
           tanh_gates="n", extra_params={"b_hn": 1}, activations=lambda cache: cache.G, kept=5,
           step=step)
