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
    dropout: float = 0.0  # the one rate of the three below when they are None
    head: str = "full"  # a name in rnnlm.registry.HEADS
    adaptive_cutoffs: tuple = ()  # the adaptive head's cluster bounds c_1 < ... < c_n < V
    # Regularisation (model/lm.py), all off by default. Rates None take `dropout`.
    dropout_embed: float | None = None  # on the embedding output
    dropout_layers: float | None = None  # on each layer's output that feeds the next layer
    dropout_output: float | None = None  # on the last layer's output, before the head
    dropout_locked: bool = False  # one mask per stream and window, the same at every time step
    dropout_words: float = 0.0  # drop whole rows of embed.W (words), one mask per window
    weight_drop: float = 0.0  # DropConnect on every layer's W_h, one mask per window
    tie_weights: bool = False  # head.W = embed.Wᵀ (needs embed_size == hidden_size)
    ar: float = 0.0  # α of α · mean(h²) on the last layer's dropped output
    tar: float = 0.0  # β of β · mean((h_t - h_{t-1})²) on the last layer's output

    def rate(self, which):
        """The dropout rate of 'embed', 'layers' or 'output': its own, else `dropout`."""
        own = getattr(self, "dropout_" + which)
        return self.dropout if own is None else own


@dataclass(frozen=True)
class InitSpec:
    """How the parameters start (model.init_params)."""

    init_scale: float = 0.0  # W_x and head.W ~ U(-s, s); 0: s = 1/sqrt(H)
    recurrent_init: str = "orthogonal"  # W_h: orthogonal per gate block, uniform or normal
    # (scale s like W_x), or identity (plain RNNs only: IRNN)
    recurrent_gain: float = 1.0  # W_h times this
    forget_bias: float = 1.0  # the bias of the cell's forget gate (LSTM)
