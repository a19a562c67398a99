"""What the math needs to know about a model: the architecture and how its weights start."""

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelSpec:
    """The architecture. Built from a config in one place (rnnlm/config/build.py)."""

    cell: str  # a name in rnnlm.registry.CELLS
    vocab_size: int  # V
    embed_size: int  # D
    hidden_size: int  # H, every layer
    layers: int  # L
    dropout: float = 0.0  # on the embedding output, between layers and before the head
    head: str = "full"  # a name in rnnlm.registry.HEADS
    adaptive_cutoffs: tuple = ()  # the adaptive head's cluster bounds c_1 < ... < c_n < V


@dataclass(frozen=True)
class InitSpec:
    """How the parameters start (model.init_params)."""

    init_scale: float = 0.0  # W_x and head.W ~ U(-s, s); 0: s = 1/sqrt(H)
    recurrent_init: str = "orthogonal"  # W_h: orthogonal per gate block, or uniform like W_x
    recurrent_gain: float = 1.0  # W_h times this
    forget_bias: float = 1.0  # the bias of the cell's forget gate (LSTM)
