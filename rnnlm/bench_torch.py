"""PyTorch's side of `rnnlm bench --torch`: the same training step, timed in its own process.

    python -m rnnlm.bench_torch CONFIG --threads N --seconds S     # prints one JSON line

`rnnlm bench` starts this as a child with OPENBLAS/OMP/MKL_NUM_THREADS set to N, so PyTorch never
shares a process with numpy's BLAS threads. PyTorch is never a dependency of rnnlm; this module
is only run when it is installed (`pip install torch==2.13.0`, the CPU build).

The step is ours, written with PyTorch's modules: embedding -> L recurrent layers -> linear ->
mean softmax cross-entropy, forward + backward + global-norm clip 5 + SGD lr 0.1, float32, the
state carried (detached) from window to window, random token ids. PyTorch's recurrent layers keep
two biases per gate block where ours keep one; the function and the work are the same. The
adaptive-head configs use nn.AdaptiveLogSoftmaxWithLoss (div_value 4, as ours: tail widths
H / 4^j; it has no tail biases where ours do) on the same Zipf-drawn ids.
"""

import argparse
import json

from .bench import ADAPTIVE, CONFIGS, timed, token_ids


class TorchStep:
    """One training step in PyTorch on random data, state carried."""

    def __init__(self, name, threads, seed=0):
        import torch
        import torch.nn as nn
        self.torch, self.F = torch, torch.nn.functional
        torch.set_num_threads(threads)
        torch.manual_seed(seed)
        cell, V, D, H, L, B, T = CONFIGS[name]
        rnn = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn_tanh": nn.RNN}[cell]
        self.embed, self.rnn = nn.Embedding(V, D), rnn(D, H, L, batch_first=True)
        self.adaptive = name in ADAPTIVE
        self.head = (nn.AdaptiveLogSoftmaxWithLoss(H, V, list(ADAPTIVE[name]), div_value=4.0)
                     if self.adaptive else nn.Linear(H, V))
        self.p = [*self.embed.parameters(), *self.rnn.parameters(), *self.head.parameters()]
        self.opt = torch.optim.SGD(self.p, lr=0.1)
        import numpy as np
        ids = token_ids(name, np.random.default_rng(seed), (B, 50 * T + 1))
        self.tokens = torch.from_numpy(ids.astype(np.int64))
        z = torch.zeros(L, B, H)
        self.state = (z, z.clone()) if cell == "lstm" else z
        self.T, self.V, self.H, self.i = T, V, H, 0

    def __call__(self):
        torch, T = self.torch, self.T
        x = self.tokens[:, self.i:self.i + T]
        y = self.tokens[:, self.i + 1:self.i + T + 1]
        self.i = (self.i + T) % (self.tokens.shape[1] - T - 1)
        st = tuple(s.detach() for s in self.state) if isinstance(self.state, tuple) \
            else self.state.detach()
        out, self.state = self.rnn(self.embed(x), st)
        if self.adaptive:
            loss = self.head(out.reshape(-1, self.H), y.reshape(-1)).loss
        else:
            loss = self.F.cross_entropy(self.head(out).reshape(-1, self.V), y.reshape(-1))
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.p, 5.0)
        self.opt.step()


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m rnnlm.bench_torch", description=__doc__.split("\n")[0])
    p.add_argument("config", choices=sorted(CONFIGS))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seconds", type=float, default=1.0)
    a = p.parse_args(argv)
    step = TorchStep(a.config, a.threads)
    step_s, steps, _ = timed(step, a.seconds)
    print(json.dumps({"step_s": step_s, "steps": steps, "threads": step.torch.get_num_threads(),
                      "torch": step.torch.__version__}), flush=True)


if __name__ == "__main__":
    main()
