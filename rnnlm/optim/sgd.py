"""SGD: θ ← θ - lr·v, v ← μ·v + g (plain SGD when momentum μ = 0); decoupled weight decay."""

from rnnlm.backend import array_module


class SGD:
    def __init__(self, params, momentum=0.0, weight_decay=0.0):
        self.momentum, self.weight_decay = momentum, weight_decay
        self.velocity = {k: array_module(p).zeros_like(p) for k, p in params.items()} \
            if momentum else {}

    @classmethod
    def from_config(cls, params, optim_cfg):
        return cls(params, optim_cfg.momentum, optim_cfg.weight_decay)

    def step(self, params, grads, lr):
        for k, p in params.items():
            g = grads[k]
            if self.momentum:
                v = self.velocity[k]
                v *= self.momentum
                v += g
                g = v
            if self.weight_decay:
                p -= p.dtype.type(lr * self.weight_decay) * p
            p -= p.dtype.type(lr) * g

    def state_dict(self):
        """Flat {name: array}: a checkpoint stores it as plain npz arrays."""
        return {f"velocity.{k}": v for k, v in self.velocity.items()}

    def load_state_dict(self, state):
        for k in self.velocity:
            self.velocity[k][...] = state[f"velocity.{k}"]
