"""What every optimizer shares: the interface the training loop, validation and checkpoints use.

An optimizer is one module of this package, registered in rnnlm/registry.py (OPTIMIZERS): a
subclass of Optimizer built by ``from_config(params, optim_cfg)``. Parameters, gradients and
the optimizer's state are flat {name: array} dicts; ``step`` updates the parameters in place.

Two hooks serve optimizers that react to validation (NT-ASGD): ``observe(valid_loss)`` is called
after every validation, and ``eval_params(params)`` gives the weights that are evaluated,
checkpointed as the model and sampled from (the raw parameters for every other optimizer).
"""


class Optimizer:
    # Names of the attributes that hold one array per parameter ({param name: array}), such as
    # Adam's "m" and "v": state_dict saves them as "<attribute>.<param name>" and
    # load_state_dict copies them back in place. Scalars are the subclass's own to add.
    moments = ()

    @classmethod
    def from_config(cls, params, optim_cfg):
        raise NotImplementedError

    def step(self, params, grads, lr):
        """One update of `params` (in place) from `grads` at learning rate `lr`."""
        raise NotImplementedError

    def observe(self, valid_loss):
        """A validation loss was measured. Returns a one-line note for the log, or None."""
        return None

    def eval_params(self, params):
        """The weights to evaluate and checkpoint as the model: `params` itself unless averaging."""
        return params

    def state_dict(self):
        """Flat {name: array}: a checkpoint stores it as plain npz arrays."""
        return {f"{m}.{k}": a for m in self.moments for k, a in getattr(self, m).items()}

    def load_state_dict(self, state):
        for m in self.moments:
            for k, a in getattr(self, m).items():
                a[...] = state[f"{m}.{k}"]
