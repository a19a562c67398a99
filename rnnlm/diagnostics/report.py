"""What `rnnlm inspect` shows: the gradient flow of a run, read from its metrics.jsonl.

    summarize(run_dir, step) -> one JSON-ready dict per run:
        step_norms (L, T) from the "train" record  ‖∂L/∂h_t‖, the heatmap
        layers[l]  probe norms (T), ρ, horizon, verdict, spectral radius, saturation / dead share
        params     weight and gradient norm of every parameter (from the probe)
        clipping   clip rate and the spread of the pre-clip global norm over training
        history    ρ, horizon and verdict of every probe up to the step
        advice     what to try, in plain words

report_terminal.py draws it with rich (plain text without), report_plot.py with matplotlib.
"""

import json
from pathlib import Path

import numpy as np

from rnnlm.config import load_config
from rnnlm.errors import ConfigError, RnnlmError
from rnnlm.nn.cells import get_cell
from rnnlm.run.metrics import read_metrics
from rnnlm.run.paths import check_run_dir

from . import probe as diagnostics

PLOT_HINT = ("--png needs matplotlib: in the rnnlm checkout run `pip install -e '.[plot]'` "
             "(or `make extras`)")

ORTHOGONAL_TIP = ("start W_h orthogonal with gain 1: --set model.recurrent_init=orthogonal "
                  "--set model.recurrent_gain=1.0")
SMALLER_TIP = "start W_h smaller: --set model.recurrent_gain=1.0 (or below)"
ADVICE = {
    "vanishing": ["a gated cell keeps the gradient alive: --set model.cell=lstm (or gru)",
                  ORTHOGONAL_TIP,
                  "steps beyond the horizon cost time and teach little: a shorter train.bptt is "
                  "as good for this model"],
    "exploding": ["clip harder: --set optim.clip_norm=1.0",
                  SMALLER_TIP,
                  "lower the learning rate (optim.lr) or shorten the window (train.bptt)",
                  "a gated cell (model.cell=lstm) bounds the state and its gradient"],
    "healthy": ["ρ^T is between 1e-3 and 1e3 in every layer: across the window the gradient "
                "neither vanishes nor explodes; nothing to fix"],
}


def _records(run_dir):
    check_run_dir(run_dir)
    records = read_metrics(run_dir)
    train = [r for r in records if r.get("kind") == "train" and r.get("step_norms")]
    probes = [r for r in records if r.get("kind") == "probe" and r.get("probe_norms")]
    if not train and not probes:
        raise RnnlmError(f"'{run_dir}' has no logged gradient norms yet: train for at least "
                         "train.log_every steps")
    return train, probes


def _steps_words(steps):
    if not steps:
        return "none"
    if len(steps) == 1:
        return str(steps[0])
    return f"{steps[0]} to {steps[-1]} every {steps[1] - steps[0]}"


def pick_step(train, probes, step=None):
    """The records to show at `step` (default: the latest): (train record, probe record or None).

    `step` must be a logged one; the latest train and probe records at or before it are shown.
    """
    logged = sorted({r["step"] for r in train} | {r["step"] for r in probes})
    if step is None:
        step = logged[-1]
    elif step not in logged:
        raise RnnlmError(f"step {step} was not logged: gradient norms at steps "
                         f"{_steps_words([r['step'] for r in train])}, probes at "
                         f"{_steps_words([r['step'] for r in probes])}; pass one of these to --step")
    at = lambda recs: next((r for r in reversed(recs) if r["step"] <= step), None)  # noqa: E731
    return step, at(train), at(probes)


def _config(run_dir):
    path = Path(run_dir) / "config.yaml"
    try:
        return load_config(path) if path.is_file() else None
    except ConfigError:
        return None


def _layer(l, probe, cell, clip_rate):
    out = {"layer": l, "probe_norms": None, "rho": None, "fit_points": 0, "horizon": None,
           "horizon_beyond_T": None, "window_gain": None, "verdict": "probe off",
           "spectral_radius": None, "clip_rate": clip_rate}  # the clip rate is global
    if probe is None:
        return out
    norms = probe["probe_norms"][l]
    out["probe_norms"] = norms
    out.update(diagnostics.read_curve(norms))
    health = (probe.get("layers") or [{}] * (l + 1))[l]
    out["spectral_radius"] = health.get("spectral_radius")
    if "dead_share" in health or (cell is not None and get_cell(cell).relu):
        out["dead_share"] = health.get("dead_share")
    else:
        out["saturation"] = health.get("saturation")
    return out


def _clipping(train, step, clip_norm):
    """Clip rate and the spread of every step's pre-clip global norm up to `step`."""
    upto = [r for r in train if r["step"] <= step]
    norms = np.array([n for r in upto for n in (r.get("grad_norms") or [r.get("grad_norm")])
                      if isinstance(n, (int, float))], dtype=np.float64)
    last = upto[-1] if upto else {}
    out = {"clip_norm": clip_norm, "clip_rate": last.get("clip_rate"),
           "clip_count": last.get("clip_count"), "grad_norm": last.get("grad_norm"),
           "grad_norm_clipped": last.get("grad_norm_clipped"), "pre_clip_norm": None}
    if norms.size:
        q = np.percentile(norms, [0, 10, 50, 90, 100])
        out["pre_clip_norm"] = dict(zip(("min", "p10", "median", "p90", "max"), map(float, q)),
                                    steps=int(norms.size))
        out["pre_clip_norm"]["series"] = norms.tolist()
    return out


def _history(probes, step):
    rows = []
    for p in probes:
        if p["step"] > step:
            break
        curves = [diagnostics.read_curve(n) for n in p["probe_norms"]]
        rows.append({"step": p["step"], "rho": [c["rho"] for c in curves],
                     "horizon": [c["horizon"] for c in curves],
                     "verdict": [c["verdict"] for c in curves]})
    return rows


def _advice(layers, probe_every, cell, model_cfg=None):
    """What to try, for the worst verdict; never a setting the run already has, never a key its
    cell does not use (model.forget_bias is the LSTM's alone)."""
    if all(x["verdict"] == "probe off" for x in layers):
        if probe_every:  # on, but the run stopped before its first probe
            return [f"no probe yet: the first comes at step {probe_every} "
                    f"(train.probe_every={probe_every}); train longer, or lower train.probe_every"]
        return ["the probe was off (train.probe_every=0): train with --set "
                "train.probe_every=50 to get ρ, the horizon and a verdict"]
    worst = "healthy"
    for x in layers:
        if x["verdict"] in ("exploding", "vanishing") and worst != "exploding":
            worst = x["verdict"]
    tips = list(ADVICE[worst])
    gated = cell is not None and get_cell(cell).k > 1
    if worst == "vanishing" and gated:  # already gated: open the gates instead
        tips = ["early in training this is common: let it train longer and watch ρ over the probes"]
        if get_cell(cell).forget_gate:
            bias = model_cfg.forget_bias if model_cfg is not None else None
            if bias is None or bias < 2.0:
                tips.append("start the forget gate more open: --set model.forget_bias=2.0")
        tips += ADVICE["vanishing"][1:]
    if model_cfg is not None:
        orthogonal_1 = model_cfg.recurrent_init == "orthogonal" and model_cfg.recurrent_gain == 1.0
        tips = [t for t in tips if not (t == ORTHOGONAL_TIP and orthogonal_1)]
        if model_cfg.recurrent_gain <= 1.0:
            tips = [f"start W_h smaller: --set model.recurrent_gain={model_cfg.recurrent_gain / 2:g}"
                    if t == SMALLER_TIP else t for t in tips]
    return tips


def summarize(run_dir, step=None):
    """Everything `inspect` says about one run, as one JSON-ready dict."""
    train, probes = _records(run_dir)
    step, rec, probe = pick_step(train, probes, step)
    cfg = _config(run_dir)
    cell = cfg.model.cell if cfg else None
    clipping = _clipping(train, step, cfg.optim.clip_norm if cfg else None)
    L = len(rec["step_norms"]) if rec else len(probe["probe_norms"])
    layers = [_layer(l, probe, cell, clipping["clip_rate"]) for l in range(L)]
    if rec:
        for l, x in enumerate(layers):
            x["step_norms"] = rec["step_norms"][l]
    params = {}
    if probe is not None:
        for name, w in (probe.get("param_norms") or {}).items():
            params[name] = {"weight_norm": w,
                            "grad_norm": (probe.get("param_grad_norms") or {}).get(name)}
    probe_every = cfg.train.probe_every if cfg else None
    return {"run": str(run_dir), "cell": cell, "step": step,
            "bptt": cfg.train.bptt if cfg else len(layers[0].get("step_norms") or []),
            "norms_step": rec["step"] if rec else None,
            "probe_step": probe["step"] if probe else None, "probe_every": probe_every,
            "loss": rec["loss"] if rec else probe.get("loss"),
            "clip_rate": clipping["clip_rate"], "clipping": clipping, "layers": layers,
            "params": params, "history": _history(probes, step),
            "advice": _advice(layers, probe_every, cell, cfg.model if cfg else None)}


def _check_png(png):
    """--png names the file written, exactly: not a directory, in a folder that exists."""
    png = Path(png)
    if png.is_dir():
        raise RnnlmError(f"--png '{png}' is a directory: name a file, e.g. {png / 'inspect.png'}")
    if not png.parent.is_dir():
        raise RnnlmError(f"--png '{png}': folder '{png.parent}' does not exist; create it or "
                         "choose another path")


def _check_plot_extra():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise RnnlmError(PLOT_HINT) from None


def inspect_runs(run_dirs, step=None, png=None, as_json=False):
    """`rnnlm inspect`: draws the report on stdout and the PNG if asked; with as_json returns the
    one JSON text for the caller to print instead."""
    if png is not None:
        _check_png(png)
        _check_plot_extra()  # before any work: a missing extra is one line, nothing else
    reports = [summarize(d, step) for d in run_dirs]
    if png is not None:
        from .plot import draw
        draw(reports, png)
    if as_json:
        return json.dumps(reports[0] if len(reports) == 1 else {"runs": reports})
    from .terminal import render
    render(reports, png)
