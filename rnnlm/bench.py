"""`rnnlm bench`: how fast one training step runs, and how much memory it takes.

One step is the real thing: forward over a window, loss, BPTT, global-norm clip and an SGD step,
float32, the state carried from window to window, random token ids. The configs match
shared/bench/torch_reference.py so that numbers can be put side by side with PyTorch. When PyTorch
is importable (`--torch`), both are timed alternately in the same run, since this machine is
shared and noisy: trust the ratio over the absolute figures.
"""

import statistics
import time
import tracemalloc

import numpy as np

from rnnlm import model
from rnnlm.optim import clip_by_norm
from rnnlm.optim.sgd import SGD

CONFIGS = {  # name: (cell, V, D, H, layers, B, T)
    "a": ("lstm", 65, 64, 512, 2, 32, 64),
    "b": ("lstm", 10_000, 200, 200, 2, 20, 35),
    "c": ("lstm", 10_000, 650, 650, 2, 20, 35),
    "d-gru": ("gru", 65, 64, 512, 2, 32, 64),
    "d-rnn": ("rnn_tanh", 65, 64, 512, 2, 32, 64),
    "default": ("lstm", 65, 64, 256, 2, 32, 64),
}


class NumpyStep:
    """One rnnlm training step on random data, state carried."""

    def __init__(self, name, seed=0):
        cell, V, D, H, L, B, T = CONFIGS[name]
        self.spec = model.ModelSpec(cell, V, D, H, L)
        rng = np.random.default_rng(seed)
        self.params = model.init_params(self.spec, rng, np.float32)
        self.opt = SGD(self.params)
        self.tokens = rng.integers(0, V, (B, 50 * T + 1)).astype(np.int32)
        self.state = model.zero_state(self.spec, B, np.float32)
        self.T, self.i = T, 0

    def __call__(self):
        T = self.T
        x = self.tokens[:, self.i:self.i + T]
        y = self.tokens[:, self.i + 1:self.i + T + 1]
        self.i = (self.i + T) % (self.tokens.shape[1] - T - 1)
        self.last = (x, y, self.state)
        _, grads, self.state, _ = model.loss_and_grads(self.params, self.spec, x, y, self.state)
        self.grads = grads  # the probe records their norms (here after clipping: same cost)
        clip_by_norm(grads, 5.0)
        self.opt.step(self.params, grads, 0.1)

    def probe(self):
        """The gradient-flow probe `train.probe_every` runs, on the last step's window."""
        from rnnlm.diagnostics.probe import probe_record
        x, y, state = self.last
        probe_record(self.params, self.spec, x, y, state, 0, self.grads)


class TorchStep:
    """The same step in PyTorch (only when torch is installed; never a dependency)."""

    def __init__(self, name, threads, seed=0):
        import torch
        import torch.nn as nn
        self.torch, self.F = torch, torch.nn.functional
        torch.set_num_threads(threads)
        torch.manual_seed(seed)
        cell, V, D, H, L, B, T = CONFIGS[name]
        rnn = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn_tanh": nn.RNN, "rnn_relu": nn.RNN}[cell]
        self.embed, self.rnn, self.head = nn.Embedding(V, D), rnn(D, H, L, batch_first=True), \
            nn.Linear(H, V)
        self.p = [*self.embed.parameters(), *self.rnn.parameters(), *self.head.parameters()]
        self.opt = torch.optim.SGD(self.p, lr=0.1)
        self.tokens = torch.randint(0, V, (B, 50 * T + 1))
        z = torch.zeros(L, B, H)
        self.state = (z, z.clone()) if cell == "lstm" else z
        self.T, self.V, self.i = T, V, 0

    def __call__(self):
        torch, T = self.torch, self.T
        x = self.tokens[:, self.i:self.i + T]
        y = self.tokens[:, self.i + 1:self.i + T + 1]
        self.i = (self.i + T) % (self.tokens.shape[1] - T - 1)
        st = tuple(s.detach() for s in self.state) if isinstance(self.state, tuple) \
            else self.state.detach()
        out, self.state = self.rnn(self.embed(x), st)
        loss = self.F.cross_entropy(self.head(out).reshape(-1, self.V), y.reshape(-1))
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.p, 5.0)
        self.opt.step()


def peak_step_memory(name):
    """Peak bytes numpy allocates during one step (tracemalloc sees numpy's allocations)."""
    step = NumpyStep(name)
    step()
    tracemalloc.start()
    tracemalloc.reset_peak()
    step()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def measure(name, seconds=5.0, threads=None, with_torch=False, warmup=2, probe=False):
    """Time numpy (and torch) steps alternately for about `seconds`; medians and the ratio.

    With `probe`, the gradient-flow probe is timed too, after each numpy step on its window,
    and `probe_every_10_keeps` is the share of tokens/s that train.probe_every=10 keeps.
    """
    _, _, _, _, _, B, T = CONFIGS[name]
    runners = {"numpy": NumpyStep(name)}
    if probe:
        runners["probe"] = runners["numpy"].probe
    if with_torch:
        runners["torch"] = TorchStep(name, threads or 1)
    times = {k: [] for k in runners}
    start = time.perf_counter()
    while min(len(v) for v in times.values()) < warmup + 3 or time.perf_counter() - start < seconds:
        for k, step in runners.items():  # alternate, so both see the same machine load
            t0 = time.perf_counter()
            step()
            times[k].append(time.perf_counter() - t0)
    result = {"config": name, "cell": CONFIGS[name][0], "tokens_per_step": B * T}
    if probe:
        probe_s = statistics.median(times.pop("probe")[warmup:])
        step_s = statistics.median(times["numpy"][warmup:])
        result["probe_ms"] = 1e3 * probe_s
        result["probe_every_10_keeps"] = step_s / (step_s + probe_s / 10)
    for k, ts in times.items():
        med = statistics.median(ts[warmup:])
        result[f"{k}_step_ms"] = 1e3 * med
        result[f"{k}_tokens_per_s"] = B * T / med
        result[f"{k}_steps"] = len(ts) - warmup
    if with_torch:
        result["numpy_over_torch"] = result["numpy_tokens_per_s"] / result["torch_tokens_per_s"]
    result["numpy_peak_mib"] = peak_step_memory(name) / 2 ** 20
    return result
