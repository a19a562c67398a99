"""The model: spec (architecture and init), params (names, shapes, init), lm (forward and
backward), gradcheck (finite differences). Imports rnnlm.nn for the math."""

from .lm import (LMCache, backward, backward_hidden, evaluate_loss, forward, forward_hidden,
                 head_loss, loss_and_grads, next_logits, token_nll)
from .params import init_layer, init_params, layer_params, orthogonal, param_shapes, zero_state
from .spec import InitSpec, ModelSpec

__all__ = ["InitSpec", "LMCache", "ModelSpec", "backward", "backward_hidden", "evaluate_loss",
           "forward", "forward_hidden", "head_loss", "next_logits", "token_nll",
           "init_layer", "init_params", "layer_params", "loss_and_grads", "orthogonal",
           "param_shapes", "zero_state"]
