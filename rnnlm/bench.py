"""`rnnlm bench`: how fast one training step runs, how close it comes to the machine's matrix-product
peak, and how much memory it takes.

One step is the real thing: forward over a window, loss, BPTT, global-norm clip 5 and an SGD step
(lr 0.1), float32, the state carried from window to window, random token ids.

BLAS fixes its thread count when numpy is loaded, so every measurement runs in a child process
started with OPENBLAS/OMP/MKL_NUM_THREADS set: ours as ``python -m rnnlm.bench`` (this module),
PyTorch's as ``python -m rnnlm.bench_torch``. The two never share a process (in one process
numpy's spinning BLAS threads and PyTorch's OpenMP threads slow each other down). For each config
and thread count the two children take turns over a few short rounds, so both see the same load
on a shared machine; the figures are medians over the rounds. Trust the ratio over the absolute
figures.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from rnnlm.errors import RnnlmError
from rnnlm.nn.cells import get_cell

from .bench_counts import (ADAPTIVE, CONFIGS, bptt_bytes, folds, head_terms,  # noqa: F401
                           multiply_adds, param_count, spec_of, step_flops, zipf_shares)

THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
SQUARE_SIZES = (1024, 2048)
NOISY = 1.25  # rounds of one side differing by more than this: the row is flagged


# ------------------------------------------------------------------ the child: our side
def token_ids(name, rng, shape):
    """Random ids (int32) for a config: uniform, or Zipf for the adaptive-head configs."""
    import numpy as np
    V = CONFIGS[name][1]
    if name not in ADAPTIVE:
        return rng.integers(0, V, shape).astype(np.int32)
    p = 1.0 / np.arange(1, V + 1)
    return rng.choice(V, size=shape, p=p / p.sum()).astype(np.int32)


class NumpyStep:
    """One rnnlm training step on random data, state carried."""

    def __init__(self, name, seed=0):
        import numpy as np

        from rnnlm import model
        from rnnlm.optim import clip_by_norm
        from rnnlm.optim.sgd import SGD
        self.model, self.clip = model, clip_by_norm
        cell, V, D, H, L, B, T = CONFIGS[name]
        self.spec = spec_of(name)
        rng = np.random.default_rng(seed)
        self.params = model.init_params(self.spec, rng, np.float32)
        self.opt = SGD(self.params)
        self.tokens = token_ids(name, rng, (B, 50 * T + 1))
        self.state = model.zero_state(self.spec, B, np.float32)
        self.T, self.i = T, 0

    def __call__(self):
        T = self.T
        x = self.tokens[:, self.i:self.i + T]
        y = self.tokens[:, self.i + 1:self.i + T + 1]
        self.i = (self.i + T) % (self.tokens.shape[1] - T - 1)
        self.last = (x, y, self.state)
        _, grads, self.state, _ = self.model.loss_and_grads(self.params, self.spec, x, y,
                                                            self.state)
        self.grads = grads  # the probe records their norms (here after clipping: same cost)
        self.clip(grads, 5.0)
        self.opt.step(self.params, grads, 0.1)

    def probe(self):
        """The gradient-flow probe `train.probe_every` runs, on the last step's window."""
        from rnnlm.diagnostics.probe import probe_record
        x, y, state = self.last
        probe_record(self.params, self.spec, x, y, state, 0, self.grads)


def peak_step_memory(name):
    """Peak bytes numpy allocates during one step (tracemalloc sees numpy's allocations)."""
    import tracemalloc
    step = NumpyStep(name)
    step()
    tracemalloc.start()
    tracemalloc.reset_peak()
    step()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def matmul_gflops(m, k, n, budget=0.15, min_reps=3):
    """float32 (m, k) @ (k, n) in GFLOP/s: the median of repeated products after one warm-up, on
    numpy's BLAS and (when installed) on MKL, the faster of the two (the machine's peak is the
    best either reaches, so a share of it never flatters the library we use)."""
    import numpy as np

    from rnnlm.backend import matmul
    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    out = np.empty((m, n), np.float32)
    best = 0.0
    for product in (np.matmul, matmul):  # numpy's BLAS, then MKL (numpy's again without it)
        product(a, b, out)
        times, start = [], time.perf_counter()
        while len(times) < min_reps or time.perf_counter() - start < budget:
            t0 = time.perf_counter()
            product(a, b, out)
            times.append(time.perf_counter() - t0)
        best = max(best, 2 * m * k * n / statistics.median(times) / 1e9)
    return best


def timed(run, seconds, warmup=2, min_steps=3, also=None):
    """Median seconds of `run()` (and of `also()` right after each, if given) over `seconds`."""
    for _ in range(warmup):
        run()
    times, extra, start = [], [], time.perf_counter()
    while len(times) < min_steps or time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        run()
        t1 = time.perf_counter()
        times.append(t1 - t0)
        if also is not None:
            also()
            extra.append(time.perf_counter() - t1)
    return statistics.median(times), len(times), (statistics.median(extra) if extra else None)


def child(name, seconds, peak=False, memory=False, probe=False):
    """Our side of one round, in this process with the threads it was started with."""
    cell, V, D, H, L, B, T = CONFIGS[name]
    out = {}
    if peak:
        out["square_gflops"] = max(matmul_gflops(s, s, s) for s in SQUARE_SIZES)
        out["step_matmul_gflops"] = matmul_gflops(B, H, get_cell(cell).k * H)
    step = NumpyStep(name)
    out["step_s"], out["steps"], probe_s = timed(step, seconds, also=step.probe if probe else None)
    if probe:
        out["probe_s"] = probe_s
    if memory:
        out["peak_bytes"] = peak_step_memory(name)
    return out


# ------------------------------------------------------------------ the parent: alternate, report
def torch_available():
    import importlib.util
    return importlib.util.find_spec("torch") is not None


def run_child(module, args, threads):
    """Run `python -m module args` with `threads` BLAS/OpenMP threads; its one JSON line."""
    env = dict(os.environ, **{v: str(threads) for v in THREAD_VARS})
    proc = subprocess.run([sys.executable, "-m", module, *map(str, args)], env=env,
                          capture_output=True, text=True)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise RnnlmError(f"bench child `python -m {module}` failed ({last}); "
                         "run it by hand to see the whole error")
    return json.loads(lines[-1])


def measure(name, threads, seconds, rounds=3, with_torch=False, probe=False, sample=False):
    """One (config, threads) result: ours and PyTorch's children in turn for `rounds` rounds;
    with `sample`, also the sampling speed (rnnlm.bench_sample) once a round."""
    per_round = seconds / rounds
    ours, theirs, sampled = [], [], []
    for r in range(rounds):
        sides = ["ours", "torch"] if with_torch else ["ours"]
        for side in sides if r % 2 == 0 else sides[::-1]:  # swap who goes first each round
            if side == "ours":
                args = [name, "--seconds", per_round, "--peak"] + (["--memory"] if r == 0 else [])
                ours.append(run_child("rnnlm.bench", args + (["--probe"] if probe else []), threads))
            else:
                theirs.append(run_child("rnnlm.bench_torch", [name, "--threads", threads,
                                                              "--seconds", per_round], threads))
        if sample:
            sampled.append(run_child("rnnlm.bench_sample", [name, "--seconds", per_round], threads))
    r = summarize(name, threads, ours, theirs, probe)
    for key in (sampled[0] if sampled else {}):
        r[key] = statistics.median(s[key] for s in sampled)
    return r


def summarize(name, threads, ours, theirs, probe=False):
    cell, V, D, H, L, B, T = CONFIGS[name]
    tokens = B * T
    tok_s = [tokens / o["step_s"] for o in ours]
    flops = step_flops(name)
    step_s = tokens / statistics.median(tok_s)
    peak = max(o["square_gflops"] for o in ours)
    r = {"config": name, "cell": cell, "threads": threads,
         "train_tokens_per_s": statistics.median(tok_s), "step_ms": 1e3 * step_s,
         "rounds_tokens_per_s": tok_s}
    if theirs:
        t_tok = [tokens / t["step_s"] for t in theirs]
        r.update(torch_tokens_per_s=statistics.median(t_tok), torch_step_ms=1e3 * tokens /
                 statistics.median(t_tok), torch_rounds_tokens_per_s=t_tok,
                 torch_gflops=step_flops(name, folded=False) / (tokens / statistics.median(t_tok))
                 / 1e9,
                 torch_version=theirs[0]["torch"])
    r["ratio"] = r["train_tokens_per_s"] / r["torch_tokens_per_s"] if theirs else None
    # max/min over the rounds, the worse side: above NOISY the machine's load moved under us
    r["spread"] = max(max(v) / min(v) for v in (tok_s, r.get("torch_rounds_tokens_per_s", tok_s)))
    r.update(gflop_per_step=flops / 1e9, gflops=flops / step_s / 1e9, peak_gflops=peak,
             step_matmul_gflops=max(o["step_matmul_gflops"] for o in ours))
    r["peak_share"] = r["gflops"] / peak
    r["peak_mib"] = ours[0]["peak_bytes"] / 2 ** 20
    r["bptt_mib"] = bptt_bytes(name) / 2 ** 20
    r["peak_over_bptt"] = r["peak_mib"] / r["bptt_mib"]
    if probe:
        probe_s = statistics.median(o["probe_s"] for o in ours)
        r["probe_ms"] = 1e3 * probe_s
        r["probe_every_10_keeps"] = step_s / (step_s + probe_s / 10)
    return r


def format_header(with_torch):
    head = f"{'config':<8} {'cell':<8} {'thr':>3} {'ours tok/s':>10} {'ms/step':>8}"
    if with_torch:
        head += f" {'torch tok/s':>11} {'ours/torch':>10}"
    return head + (f" {'GFLOP/s':>7} {'peak':>6} {'share':>5}  {'peak MiB':>8} {'BPTT MiB':>8}"
                   f" {'xBPTT':>5}")


def format_row(r):
    line = (f"{r['config']:<8} {r['cell']:<8} {r['threads']:>3} {r['train_tokens_per_s']:>10.0f}"
            f" {r['step_ms']:>8.1f}")
    if r["ratio"] is not None:
        line += f" {r['torch_tokens_per_s']:>11.0f} {r['ratio']:>10.2f}"
    line += (f" {r['gflops']:>7.1f} {r['peak_gflops']:>6.1f} {r['peak_share']:>5.0%}"
             f"  {r['peak_mib']:>8.1f} {r['bptt_mib']:>8.1f} {r['peak_over_bptt']:>5.2f}")
    if r["spread"] > NOISY:
        line += f"   noisy: rounds differ {r['spread']:.1f}x"
    if "probe_ms" in r:
        line += (f"   probe {r['probe_ms']:.1f} ms: probe_every=10 keeps "
                 f"{r['probe_every_10_keeps']:.2f} of tok/s")
    if "sample_1_tokens_per_s" in r:
        one, batch = r["sample_1_tokens_per_s"], r["sample_32_tokens_per_s"]
        line += f"   sampling {one:.0f} tok/s, 32 samples {batch:.0f} tok/s ({batch / one:.1f}x)"
    return line


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m rnnlm.bench",
                                description="One round of our side of `rnnlm bench` (a child).")
    p.add_argument("config", choices=sorted(CONFIGS))
    p.add_argument("--seconds", type=float, default=1.0)
    p.add_argument("--peak", action="store_true", help="Also time float32 matrix products.")
    p.add_argument("--memory", action="store_true", help="Also trace one step's peak memory.")
    p.add_argument("--probe", action="store_true", help="Also time the gradient-flow probe.")
    a = p.parse_args(argv)
    from rnnlm.process import prepare
    prepare()
    print(json.dumps(child(a.config, a.seconds, a.peak, a.memory, a.probe)), flush=True)


if __name__ == "__main__":
    main()
