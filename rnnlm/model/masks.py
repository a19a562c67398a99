"""The dropout masks of one training window, drawn once (so a gradient check and the k1/k2 mode's
state advance can see the same ones) in a fixed order from the run's generator."""

from typing import NamedTuple

import numpy as np

from rnnlm.nn.cells import get_cell
from rnnlm.nn.layers import dropout_mask


class Masks(NamedTuple):
    """The dropout masks of one window (host arrays, None where off)."""

    words: object  # (V,) keep of each row of embed.W
    embed: object  # (T, B, D), or (1, B, D) when locked
    layers: list  # L: (T, B, H) or (1, B, H) on each layer's output
    weights: list  # L: (H, kH) keep of each layer's W_h

    def window(self, t0, t1):
        """The masks of steps t0..t1-1 of the window (locked and per-window masks unchanged)."""
        cut = (lambda m: m if m is None or m.shape[0] == 1 else m[t0:t1])
        return self._replace(embed=cut(self.embed), layers=[cut(m) for m in self.layers])


def _whole(rng):
    """The generator for masks the whole batch shares (words, weights): under MPI the rows
    wrapper's underlying generator, drawn alike on every rank."""
    return getattr(rng, "whole", rng)


def draw_masks(spec, T, B, rng, dtype):
    """Every mask of one window, drawn in a fixed order: words, embedding, then per layer its
    weight mask and its output mask (with only `dropout` set: the same draws as plain dropout)."""
    cell, dtype = get_cell(spec.cell), np.dtype(dtype)
    steps = 1 if spec.dropout_locked else T

    def act(p, F):
        return dropout_mask((steps, B, F), p, rng, dtype) if p > 0 else None

    words = dropout_mask((spec.vocab_size,), spec.dropout_words, _whole(rng), dtype) \
        if spec.dropout_words > 0 else None
    embed = act(spec.rate("embed"), spec.embed_size)
    layers, weights = [], []
    H = spec.hidden_size
    for l in range(spec.layers):
        weights.append(dropout_mask((H, cell.k * H), spec.weight_drop, _whole(rng), dtype)
                       if spec.weight_drop > 0 else None)
        layers.append(act(spec.rate("output" if l == spec.layers - 1 else "layers"), H))
    return Masks(words, embed, layers, weights)
