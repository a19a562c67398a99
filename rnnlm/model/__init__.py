"""The model: spec (architecture and init), params (names, shapes, init), lm (forward and
backward), gradcheck (finite differences). Imports rnnlm.nn for the math."""

from .lm import (LMCache, Masks, WindowResult, advance, backward, draw_masks, evaluate_loss, forward,
                 loss_and_grads, window_loss_and_grads)
from .params import init_layer, init_params, layer_params, orthogonal, param_shapes, zero_state
from .spec import InitSpec, ModelSpec

__all__ = ["InitSpec", "LMCache", "Masks", "ModelSpec", "WindowResult", "advance", "backward",
           "draw_masks", "evaluate_loss", "forward", "init_layer", "init_params", "layer_params",
           "loss_and_grads", "orthogonal", "param_shapes", "window_loss_and_grads", "zero_state"]
