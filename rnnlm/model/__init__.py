"""The model: spec (architecture and init), params (names, shapes, init), lm (forward and
backward), gradcheck (finite differences). Imports rnnlm.nn for the math."""

from .lm import (LMCache, advance, backward, backward_hidden, evaluate_loss, forward,
                 forward_hidden, head_loss, next_logits, step_logits, token_nll)
from .masks import Masks, draw_masks
from .window import WindowResult, loss_and_grads, loss_weights, window_loss_and_grads
from .params import init_layer, init_params, layer_params, orthogonal, param_shapes, zero_state
from .spec import InitSpec, ModelSpec

__all__ = ["InitSpec", "LMCache", "Masks", "ModelSpec", "WindowResult", "advance", "backward",
           "backward_hidden", "draw_masks", "evaluate_loss", "forward", "forward_hidden",
           "head_loss", "init_layer", "init_params", "layer_params", "loss_and_grads",
           "next_logits", "orthogonal", "param_shapes", "step_logits", "token_nll", "window_loss_and_grads",
           "zero_state"]
