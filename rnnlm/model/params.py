"""The parameters of a model: their names and shapes (stated once, here) and their initialisation.

Parameters and gradients are one flat dict with dotted names:

    embed.W       (V, D)
    rnn.{l}.W_x   (D_in, kH)    D_in = D for layer 0, H above; k gate blocks side by side
    rnn.{l}.W_h   (H, kH)
    rnn.{l}.b     (kH,)
    rnn.{l}.b_hn  (H,)          GRU only (the cell's extra parameters)
    head.W        (H, V)         model.head full (the default)
                                 absent with tie_weights: the head reads embed.Wᵀ (D = H)
    head.b        (V,)
    head.adaptive.W0, .b0, .P{j}, .W{j}, .b{j}   model.head adaptive (shapes: nn/heads/adaptive.py)
"""

import numpy as np

from rnnlm.nn.cells import get_cell, zero_state as cell_zero_state
from rnnlm.nn.heads import get_head

from .spec import InitSpec


def param_shapes(spec):
    """{name: shape} of every parameter, in the layout of the module docstring; no allocation."""
    V, D, H = spec.vocab_size, spec.embed_size, spec.hidden_size
    cell = get_cell(spec.cell)
    shapes = {"embed.W": (V, D)}
    for l in range(spec.layers):
        local = cell.param_shapes(D if l == 0 else H, H)
        shapes.update({f"rnn.{l}.{name}": shape for name, shape in local.items()})
    if spec.tie_weights:  # the full head without its W: embed.Wᵀ serves
        shapes["head.b"] = (V,)
    else:
        head = get_head(spec.head).param_shapes(H, V, spec.adaptive_cutoffs)
        shapes.update({f"head.{name}": shape for name, shape in head.items()})
    return shapes


def init_params(spec, rng, dtype=np.float32, init=InitSpec()):
    """Fresh parameters on the host, drawn from the numpy Generator `rng` in a fixed order."""
    V, D, H = spec.vocab_size, spec.embed_size, spec.hidden_size
    s = init.init_scale if init.init_scale > 0 else 1.0 / np.sqrt(H)
    # Embeddings ~ N(0, 1), like a one-hot input seen through a random projection: inputs of
    # unit size, so the first layer's gates are not all stuck near their midpoint at the start.
    # Tied weights: embed.W is the output layer too, so it starts like one, U(-s, s) (N(0, 1)
    # would give logits of size ~sqrt(H) and a first loss far above log V).
    params = {"embed.W": (rng.uniform(-s, s, (V, D)) if spec.tie_weights
                          else rng.standard_normal((V, D))).astype(dtype)}
    for l in range(spec.layers):
        layer = init_layer(get_cell(spec.cell), D if l == 0 else H, H, rng, init)
        params.update({f"rnn.{l}.{k}": v.astype(dtype) for k, v in layer.items()})
    if spec.tie_weights:  # the full head without its W: embed.Wᵀ serves
        params["head.b"] = np.zeros(V, dtype)
    else:
        head = get_head(spec.head).init(H, V, spec.adaptive_cutoffs, rng, s)
        params.update({f"head.{name}": v.astype(dtype) for name, v in head.items()})
    return params


def init_layer(cell, input_size, hidden_size, rng, init):
    """One layer's parameters (float64; the caller casts).

    W_x ~ U(-s, s) with s = init_scale, or 1/sqrt(H) when init_scale is 0 (PyTorch's default).
    W_h, times recurrent_gain: each H×H gate block orthogonal; or uniform U(-s, s); or normal
    N(0, s²); or identity (IRNN, Le et al. 2015: plain RNNs only, k = 1; config/build.py refuses
    it for gated cells, whose W_h holds one block per gate).
    b = 0, except the forget gate's block, which starts at forget_bias (remember by default).
    Extra parameters (the GRU's b_hn) start at 0.
    """
    k, H = cell.k, hidden_size
    s = init.init_scale if init.init_scale > 0 else 1.0 / np.sqrt(H)
    W_x = rng.uniform(-s, s, (input_size, k * H))
    if init.recurrent_init == "orthogonal":
        W_h = np.concatenate([orthogonal(H, rng) for _ in range(k)], axis=1)
    elif init.recurrent_init == "identity":
        if k != 1:
            raise ValueError(f"recurrent_init 'identity' is for plain RNNs, not the {k}-gate {cell.name}")
        W_h = np.eye(H)
    elif init.recurrent_init == "normal":
        W_h = rng.normal(0.0, s, (H, k * H))
    else:
        W_h = rng.uniform(-s, s, (H, k * H))
    b = np.zeros(k * H)
    if cell.forget_gate:
        j = cell.gates.index(cell.forget_gate)
        b[j * H:(j + 1) * H] = init.forget_bias
    p = {"W_x": W_x, "W_h": init.recurrent_gain * W_h, "b": b}
    p.update({name: np.zeros(m * H) for name, m in cell.extra_params.items()})
    return p


def orthogonal(n, rng):
    """A random n×n orthogonal matrix (QR of a Gaussian, signs fixed so it is uniformly drawn)."""
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def layer_params(params, l):
    """The cell-local view {'W_x': ..., 'W_h': ..., 'b': ...} of layer l."""
    prefix = f"rnn.{l}."
    return {k[len(prefix):]: v for k, v in params.items() if k.startswith(prefix)}


def zero_state(spec, batch_size, dtype=np.float32, xp=np):
    """The all-zero state: one tuple per layer, each the cell's own (h,) or (h, c), (B, H)."""
    cell = get_cell(spec.cell)
    return tuple(cell_zero_state(cell, batch_size, spec.hidden_size, dtype, xp)
                 for _ in range(spec.layers))
