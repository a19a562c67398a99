"""The terminal report of `rnnlm inspect`: colour with rich when it is there, plain text when not.

    heatmap   log10 ‖∂L/∂h_t‖, one row per layer, time left (t = 1) to right (t = T), one colour
              scale shared by every run shown, with its legend
    probe     log10 ‖∂ℓ_T/∂h_{T-k}‖ as a sparkline, k = 0 on the left, with ρ, horizon, verdict
    health    spectral radius per W_h block, saturation per gate or the dead share
    clipping  clip rate and the pre-clip global norm over training (sparkline + quantiles)
    history   early / middle / late probes, and ρ over every probe as a sparkline
"""

import math
import sys

try:
    from rich.console import Console
    from rich.text import Text
except ImportError:  # rich comes with typer; plain text if it ever does not
    Console = Text = None

SPARK = "▁▂▃▄▅▆▇█"
RAMP = ".:-=+*#%&@"  # plain-text heatmap, low to high (a blank is a zero norm)
VIRIDIS = [(68, 1, 84), (72, 40, 120), (62, 74, 137), (49, 104, 142), (38, 130, 142),
           (31, 158, 137), (53, 183, 121), (109, 205, 89), (180, 222, 44), (253, 231, 37)]
WIDTH = 50  # at most this many columns for a heatmap row or a sparkline
WORDS = {
    "vanishing": "the gradient of the last position dies before it crosses the window: this layer "
                 "cannot learn dependencies much longer than its horizon",
    "exploding": "the gradient grows as it goes back: updates are ruled by the far past and "
                 "clipping has to rescue them",
    "healthy": "the gradient reaches back across the whole window without dying or blowing up",
    "no signal": "the probe's gradient was zero at the last position: nothing to read",
    "probe off": "no probe at this step",
}


def _words(x):
    """The verdict in words; a healthy layer whose horizon falls inside the window says both."""
    if x["verdict"] == "healthy" and x["horizon"] is not None:
        return (f"across the window the gradient neither dies nor blows up on average (ρ^T = "
                f"{_fmt(x.get('window_gain'), '.2g')}, between 1e-3 and 1e3), but it falls below "
                f"1e-3 of its start {x['horizon']} steps back: beyond that, what it carries "
                "is faint")
    return WORDS[x["verdict"]]


def _binned(n):
    """How n values are drawn: ', binned into 50 columns' when there are more than WIDTH."""
    return f", binned into {WIDTH} columns of about {n / WIDTH:.1f} steps" if n > WIDTH else ""


def _log10(v):
    return math.log10(v) if isinstance(v, (int, float)) and v > 0 and math.isfinite(v) else None


def _bins(values, width=WIDTH):
    """Shrink a list to at most `width` entries, each the mean of its bin (None ignored)."""
    n = len(values)
    if n <= width:
        return list(values)
    out = []
    for i in range(width):
        chunk = [v for v in values[i * n // width:(i + 1) * n // width] if v is not None]
        out.append(sum(chunk) / len(chunk) if chunk else None)
    return out


def _level(v, lo, hi, n):
    if v is None:
        return None
    return 0 if hi <= lo else min(n - 1, max(0, int((v - lo) / (hi - lo) * n)))


def sparkline(values, lo=None, hi=None):
    """Numbers (None = missing, shown as a space) as block characters, scaled lo..hi."""
    vals = [v for v in values if v is not None]
    if not vals:
        return ""
    lo = min(vals) if lo is None else lo
    hi = max(vals) if hi is None else hi
    return "".join(" " if v is None else SPARK[_level(v, lo, hi, len(SPARK))] for v in values)


class _Out:
    """Lines of text, some spans coloured: rich when available, else plain."""

    def __init__(self):
        self.console = Console(file=sys.stdout, highlight=False, soft_wrap=True) if Console else None
        # Without colour (a pipe, a file, NO_COLOR) the heatmap falls back to the character ramp.
        self.colour = self.console is not None and self.console.color_system is not None

    def line(self, *parts):
        """parts: str, or (str, style) pairs; styles are dropped in plain text."""
        if self.console is None:
            print("".join(p if isinstance(p, str) else p[0] for p in parts))
            return
        text = Text()
        for p in parts:
            text.append(*(p if isinstance(p, tuple) else (p,)))
        self.console.print(text)

    def heat(self, v, lo, hi):
        level = _level(v, lo, hi, len(VIRIDIS))
        if level is None:
            return ("·", "dim") if self.colour else " "
        if not self.colour:
            return RAMP[_level(v, lo, hi, len(RAMP))]
        return ("█", "rgb({},{},{})".format(*VIRIDIS[level]))


def _fmt(v, spec=".3g"):
    return "n/a" if v is None else format(v, spec)


def _heatmap(out, rep, lo, hi):
    layers = [x for x in rep["layers"] if x.get("step_norms")]
    if not layers:
        return
    T = len(layers[0]["step_norms"])
    out.line(("gradient norm per time step", "bold"),
             f"  log10 ‖∂L/∂h_t‖ at step {rep['norms_step']}, t = 1 … {T} left to right"
             f"{_binned(T)}")
    for x in reversed(layers):  # the top layer on top
        row = _bins([_log10(v) for v in x["step_norms"]])
        out.line(f"  layer {x['layer']}  ", *[out.heat(v, lo, hi) for v in row])
    legend = [out.heat(lo + (hi - lo) * (i + 0.5) / 10, lo, hi) for i in range(10)]
    out.line(f"  legend   {lo:.1f} ", *legend, f" {hi:.1f}  (log10; · or blank = zero)")


def _probe(out, rep):
    T = max((len(x["probe_norms"]) for x in rep["layers"] if x["probe_norms"]), default=0)
    out.line(("last-position probe", "bold"), "  log10 ‖∂ℓ_T/∂h_{T-k}‖, k = 0 on the left"
             + (f", at step {rep['probe_step']}" if rep["probe_step"] else "") + _binned(T))
    for x in reversed(rep["layers"]):
        if x["probe_norms"] is None:
            continue
        hz = f"beyond T={len(x['probe_norms'])}" if x["horizon"] is None else f"{x['horizon']} steps"
        style = {"vanishing": "yellow", "exploding": "red", "healthy": "green"}.get(x["verdict"], "")
        out.line(f"  layer {x['layer']}  ", sparkline(_bins([_log10(v) for v in x["probe_norms"]])),
                 f"  ρ {_fmt(x['rho'], '.3f')}/step, horizon {hz}  ", (x["verdict"], style))
    for x in reversed(rep["layers"]):
        if x["probe_norms"] is not None:
            out.line(f"  layer {x['layer']}: {_words(x)}")


def _health(out, rep):
    for x in reversed(rep["layers"]):
        if x.get("spectral_radius") is None:
            continue
        radii = ", ".join(f"{k} {v:.2f}" for k, v in x["spectral_radius"].items())
        if "dead_share" in x:
            gates = f"dead units {_fmt(x['dead_share'] and 100 * x['dead_share'], '.1f')}%"
        else:
            gates = "saturated " + ", ".join(f"{k} {100 * v:.0f}%"
                                             for k, v in (x.get("saturation") or {}).items())
        out.line(f"  layer {x['layer']}  spectral radius of W_h: {radii};  {gates}")


def _clipping(out, rep):
    c = rep["clipping"]
    dist = c["pre_clip_norm"]
    head = (f"clipping fired on {100 * c['clip_rate']:.1f}% of steps"
            if c["clip_rate"] is not None else "clip rate not logged")
    out.line(("clipping", "bold"), f"  {head} (clip_norm {_fmt(c['clip_norm'], 'g')})")
    if dist:
        out.line(f"  pre-clip norm over {dist['steps']} steps  ",
                 sparkline(_bins([_log10(v) for v in dist["series"]])),
                 f"  median {dist['median']:.3g}, 90% {dist['p90']:.3g}, max {dist['max']:.3g}")


def _history(out, rep):
    h = rep["history"]
    if len(h) < 2:
        return
    out.line(("over training", "bold"), f"  {len(h)} probes, steps {h[0]['step']} … {h[-1]['step']}")
    picks = sorted({0, len(h) // 2, len(h) - 1})
    names = ("early", "middle", "late") if len(picks) == 3 else ("early", "late")
    for i, name in zip(picks, names):
        r = h[i]
        cells = "; ".join(f"L{l} ρ {_fmt(rho, '.3f')} horizon "
                          f"{'>T' if hz is None else hz} {v}"
                          for l, (rho, hz, v) in enumerate(zip(r["rho"], r["horizon"], r["verdict"])))
        out.line(f"  {name:<6} step {r['step']:>6}  {cells}")
    for l in range(len(h[0]["rho"])):
        out.line(f"  ρ of layer {l} over the probes  ", sparkline(_bins([r["rho"][l] for r in h])))


def _table(out, reports):
    out.line(("side by side", "bold"))
    out.line(f"  {'run':<28} {'cell':<9} {'layer':>5} {'ρ':>7} {'horizon':>8} {'verdict':<10}"
             f" {'radius':>7} {'clip':>6}")
    for rep in reports:
        for x in rep["layers"]:
            radius = max(x["spectral_radius"].values()) if x.get("spectral_radius") else None
            hz = "n/a" if x["rho"] is None else (">T" if x["horizon"] is None else str(x["horizon"]))
            clip = "n/a" if rep["clip_rate"] is None else f"{100 * rep['clip_rate']:.0f}%"
            out.line(f"  {rep['run'][-28:]:<28} {str(rep['cell'])[:9]:<9} {x['layer']:>5} "
                     f"{_fmt(x['rho'], '.3f'):>7} {hz:>8} {x['verdict']:<10} "
                     f"{_fmt(radius, '.2f'):>7} {clip:>6}")


def render(reports, png=None):
    """Print the report of every run, then a side-by-side table when there are several."""
    out = _Out()
    logs = [_log10(v) for r in reports for x in r["layers"] for v in (x.get("step_norms") or [])]
    logs = [v for v in logs if v is not None] or [0.0]
    lo, hi = min(logs), max(logs)  # one colour scale for every run: comparable at a glance
    for rep in reports:
        out.line((f"{rep['run']}", "bold cyan"), f"  {rep['cell'] or '?'}, step {rep['step']}, "
                 f"train loss {_fmt(rep['loss'], '.4f')} nats/token, bptt {rep['bptt']}")
        _heatmap(out, rep, lo, hi)
        if rep["probe_step"] is None:
            every = rep.get("probe_every")
            out.line(("last-position probe", "bold"),
                     f"  none yet: the first comes at step {every} (train.probe_every={every})"
                     if every else "  off in this run: train with --set "
                     "train.probe_every=50 to see ρ, the horizon and a verdict")
        else:
            _probe(out, rep)
            _health(out, rep)
        _clipping(out, rep)
        _history(out, rep)
        out.line(("what to try", "bold"))
        for a in rep["advice"]:
            out.line(f"  - {a}")
        out.line("")
    if len(reports) > 1:
        _table(out, reports)
    if png is not None:
        out.line(f"figures written to {png}")
