"""ntasgd: non-monotonically triggered averaged SGD (Merity et al. 2017, AWD-LSTM).

Plain SGD (sgd.py; momentum and weight decay as there) until validation stops improving, then
SGD that also keeps the running average of the weights after every step since that switch:

    trigger, checked at each validation loss v while not yet averaging, with logs the validation
    losses observed so far (n = optim.nonmono):
        len(logs) > n  and  v > min(logs[:-n])
    i.e. v is worse than the best loss measured before the last n evaluations. v is appended to
    logs after the check; non-finite losses are not logged.

    after the switch, at every step k = 1, 2, ...:   θ ← SGD step;   θ̄ ← θ̄ + (θ - θ̄)/k

Training continues on the raw θ; θ̄ is the model: ``eval_params`` returns it (once one averaged
step was taken), so validation, best.npz, `rnnlm eval` and `rnnlm sample` use the average. The
state (velocity, θ̄, k, whether averaging, logs) is in ``state_dict`` for exact resume.
"""

import math

from rnnlm.backend import array_module

from .sgd import SGD


class NTASGD(SGD):
    moments = SGD.moments + ("average",)

    def __init__(self, params, nonmono=5, momentum=0.0, weight_decay=0.0, nesterov=False):
        super().__init__(params, momentum, weight_decay, nesterov)
        self.nonmono = nonmono
        self.logs = []  # validation losses observed before the switch
        self.averaging = False
        self.count = 0  # steps averaged so far
        self.average = {k: array_module(p).zeros_like(p) for k, p in params.items()}

    @classmethod
    def from_config(cls, params, optim_cfg):
        o = optim_cfg
        return cls(params, o.nonmono, o.momentum, o.weight_decay, o.nesterov)

    def step(self, params, grads, lr):
        super().step(params, grads, lr)
        if not self.averaging:
            return
        self.count += 1
        for k, p in params.items():
            avg = self.average[k]
            if self.count == 1:
                avg[...] = p
            else:
                avg += (p - avg) * p.dtype.type(1.0 / self.count)

    def observe(self, valid_loss):
        if self.averaging or not math.isfinite(valid_loss):
            return None
        n, logs = self.nonmono, self.logs
        earlier = min(logs[:-n]) if len(logs) > n else None
        logs.append(float(valid_loss))
        if earlier is None or not valid_loss > earlier:
            return None
        self.averaging = True
        return (f"NT-ASGD: switched to averaged SGD (validation loss {valid_loss:.4f} is worse "
                f"than {earlier:.4f}, the best before the last {n} evaluations); from now on "
                "the model evaluated and checkpointed is the average of the weights")

    def eval_params(self, params):
        return self.average if self.count else params

    def state_dict(self):
        state = super().state_dict()
        xp = array_module(*self.average.values())
        state.update(count=xp.asarray(self.count, dtype="int64"),
                     averaging=xp.asarray(int(self.averaging), dtype="int64"),
                     logs=xp.asarray(self.logs, dtype="float64").reshape(-1))
        return state

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self.count = int(state["count"])
        self.averaging = bool(int(state["averaging"]))
        self.logs = [float(v) for v in state["logs"].reshape(-1)]
