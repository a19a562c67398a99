"""What one step of a bench config is: its model (CONFIGS, spec_of), the multiply-adds it does
(multiply_adds, step_flops) and the memory BPTT must keep for it (bptt_bytes). Pure counting,
shared by `rnnlm bench`'s parent and children and by the tests."""

import math

from rnnlm.nn.cells import get_cell

CONFIGS = {  # name: (cell, V, D, H, layers, B, T)
    "a": ("lstm", 65, 64, 512, 2, 32, 64),
    "b": ("lstm", 10_000, 200, 200, 2, 20, 35),
    "c": ("lstm", 10_000, 650, 650, 2, 20, 35),
    "d-gru": ("gru", 65, 64, 512, 2, 32, 64),
    "d-rnn": ("rnn_tanh", 65, 64, 512, 2, 32, 64),
    "default": ("lstm", 65, 64, 256, 2, 32, 64),
    "b-adaptive": ("lstm", 10_000, 200, 200, 2, 20, 35),  # b with the adaptive head
}
# Configs with the adaptive head: their cutoffs. Their token ids are drawn from a Zipf law
# (p(id) ∝ 1 / (id + 1)), as words in text are once sorted by frequency, since the head's work
# depends on how many rows reach each tail cluster (the full softmax's does not).
ADAPTIVE = {"b-adaptive": (500, 2000)}  # the best of four in equal time (README)


def zipf_shares(V, bounds):
    """Probability mass of ids [bounds[j], bounds[j+1]) under p(id) ∝ 1 / (id + 1), id < V."""
    import numpy as np
    p = 1.0 / np.arange(1, V + 1)
    p /= p.sum()
    return [float(p[a:b].sum()) for a, b in zip(bounds, bounds[1:])]


def head_terms(name):
    """(multiply-adds per token, floats the softmax keeps per token) of the config's head.

    Full: H·V and V. Adaptive with cutoffs c_1 < ... < c_n, tail widths d_j = H / 4^j, sizes
    s_j and the share q_j of tokens in tail j (Zipf, zipf_shares): H·(c_1 + n) + Σ q_j·(H·d_j +
    d_j·s_j) and (c_1 + n) + Σ q_j·(d_j + s_j)."""
    cell, V, D, H, L, B, T = CONFIGS[name]
    if name not in ADAPTIVE:
        return H * V, V
    cuts = ADAPTIVE[name]
    bounds = list(cuts) + [V]
    shares = zipf_shares(V, bounds)
    macs, kept = H * (cuts[0] + len(cuts)), cuts[0] + len(cuts)
    for j, q in enumerate(shares, start=1):
        d, size = max(1, H // 4 ** j), bounds[j] - bounds[j - 1]
        macs += q * (H * d + d * size)
        kept += q * (d + size)
    return macs, kept


def folds(name):
    """Whether rnnlm folds the config's embedding into its first layer (model/lm.py: V · 4 ≤
    T · B, no dropout): the char configs."""
    from rnnlm.model import lm
    cell, V, D, H, L, B, T = CONFIGS[name]
    return lm.embedding_folds(V, T * B)


def multiply_adds(name, folded=None):
    """Multiply-adds of one training step, counted from the matrix products alone.

    With N = T·B tokens, k gate blocks (1 RNN, 3 GRU, 4 LSTM), D_in = D for layer 0 and H above:

        forward  F = N · ( Σ_l (D_in + H) · kH  +  H · V )
                       input projection X W_x and recurrent products h W_h of every layer,
                       then the output layer
        backward   = 2F: each forward product A·W has two of the same size, the input gradient
                       dA·Wᵀ (for layer 0 too: it feeds the embedding) and the weight gradient Aᵀ·dA
        step     M = 3F multiply-adds;  flops = 2M = 6F

    When the embedding folds into the first layer (``folds``; ``folded`` None: as rnnlm does,
    False: as written, PyTorch's count) its three N·D·kH products are three of V·D·kH: rnnlm's
    GFLOP/s count the products it computes. Left out: gate arithmetic, softmax, the table's
    gather and scatter, clipping and the update, all O(N·H + params). The adaptive head's H·V
    term is head_terms' expected count.
    Config a as written: N = 2048, F = 2048 · ((64+512)·2048 + (512+512)·2048 + 512·65) =
    6.779e9, one step 40.7 GFLOP; folded, F = 6.779e9 - (2048 - 65) · 64 · 2048 = 6.519e9, one
    step 39.1 GFLOP.
    """
    cell, V, D, H, L, B, T = CONFIGS[name]
    kH = get_cell(cell).k * H
    per_token = sum(((D if l == 0 else H) + H) * kH for l in range(L)) + head_terms(name)[0]
    F = T * B * per_token
    if folds(name) if folded is None else folded:
        F -= (T * B - V) * D * kH
    return int(3 * F)


def step_flops(name, folded=None):
    return 2 * multiply_adds(name, folded)


def param_count(name):
    """P, the number of parameters (= of gradient floats) of the config's model."""
    from rnnlm import model
    return sum(math.prod(s) for s in model.param_shapes(spec_of(name)).values())


def spec_of(name):
    from rnnlm import model
    cell, V, D, H, L, B, T = CONFIGS[name]
    head = "adaptive" if name in ADAPTIVE else "full"
    return model.ModelSpec(cell, V, D, H, L, head=head, adaptive_cutoffs=ADAPTIVE.get(name, ()))


def bptt_bytes(name, activations_only=False):
    """Bytes BPTT must keep for one window: its activations and the parameters' gradients
    (float32, 4 bytes each).

    Gradients are counted: global-norm clipping needs every gradient at once before any update,
    so no training step can hold less (config a: 12.7 MiB beside 57.0 MiB of activations).

    With N = T·B tokens, every float the backward pass reads from the forward pass, each counted
    once (a layer's input is the previous layer's output, already counted there):

        embedding output (layer 0's input)     N · D
        per layer, what the cell caches        N · c · H,  c = 1 RNN  (h_t)
                                                           c = 5 GRU  (r, z, n: 3H; h W_h[n] + b_hn;
                                                                       h_t)
                                                           c = 7 LSTM (i, f, o, g: 4H; c_t;
                                                                       tanh(c_t); h_t)
        output layer: the softmax (from the logits, in place of them)   N · V
                      (adaptive head: the expected floats of head_terms)
        the parameters' gradients                                       P

        bptt_bytes = 4 · (N · (D + L·c·H + V) + P)

    The carried-in state (h_0, c_0: B·H each) is cached too, but it exists before the step.
    With the embedding folded into the first layer (``folds``) rnnlm keeps the ids instead of
    the N · D embedding output; the count stays the one above (config a: 0.5 of 69.7 MiB).
    Config a: 4 · (2048 · (64 + 2·7·512 + 65) + 3,318,401) = 59.8 MB + 13.3 MB = 69.7 MiB.
    ``activations_only=True`` leaves P out (57.0 MiB for a).
    """
    cell, V, D, H, L, B, T = CONFIGS[name]
    acts = 4 * T * B * (D + L * get_cell(cell).kept * H + head_terms(name)[1])
    return int(acts if activations_only else acts + 4 * param_count(name))
