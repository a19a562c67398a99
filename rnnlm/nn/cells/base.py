"""What a cell is: its gates, its state, its parameters, its window forward and backward.

Each cell module builds one ``Cell`` (registered by name in rnnlm/registry.py); the model, the
trainer, the diagnostics and the sampler read everything cell-specific from it and never branch on
the cell's name.
"""

from dataclasses import dataclass, field
from typing import Callable


@dataclass(frozen=True)
class Cell:
    name: str
    gates: str  # gate letters in block order; k = len(gates) blocks of H columns in W_x, W_h, b
    state: tuple  # names of the state tensors, ("h",) or ("h", "c"), each (B, H)
    forward: Callable  # (p, X (T, B, D), state) -> Hs (T, B, H), state_out, cache
    backward: Callable  # (p, dHs, dstate_out, cache, grads=None, prefix="", overwrite=False)
    #   -> dX, dstate_in, norms (T,); overwrite: may write over the cache and dHs (both spent)
    tanh_gates: str = ""  # gates whose activation is tanh (the others are sigmoids)
    extra_params: dict = field(default_factory=dict)  # name -> (H,) shape multiplier: {"b_hn": 1}
    forget_gate: str = ""  # the gate whose bias starts at model.forget_bias
    relu: bool = False  # units can die (ReLU): diagnostics report the dead share
    activations: Callable = None  # cache -> (T, B, kH) gate activations (for saturation), or Hs
    step: Callable = None  # (p, x (B, D), state) -> state_out: one step, no cache (sampling)
    kept: int = 1  # floats per token, in units of H, the forward cache keeps beside its input X

    @property
    def k(self):
        return len(self.gates)

    def param_shapes(self, input_size, hidden_size):
        """{local name: shape} of one layer: W_x (D_in, kH), W_h (H, kH), b (kH,), extras."""
        kH = self.k * hidden_size
        shapes = {"W_x": (input_size, kH), "W_h": (hidden_size, kH), "b": (kH,)}
        shapes.update({n: (m * hidden_size,) for n, m in self.extra_params.items()})
        return shapes
