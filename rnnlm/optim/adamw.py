"""adamw: Adam with decoupled weight decay (Loshchilov & Hutter): θ ← θ - lr·λ·θ next to the Adam
step, so every weight decays at the same rate whatever its gradient history.

This is what rnnlm's `adam` did before `adamw` existed; checkpoints of such runs trained with
weight_decay > 0 resume as adamw (run/checkpoints.py says so). The state (m, v, t) is Adam's.
"""

from .adam import Adam


class AdamW(Adam):
    decoupled = True
