"""`rnnlm inspect --png`: the terminal report's figures drawn with matplotlib (the plot extra).

One row per run, four panels:

    heatmap   log10 ‖∂L/∂h_t‖, layer × time step, one colour scale for every run
    probe     ‖∂ℓ_T/∂h_{T-k}‖ against k (log scale), with the fitted ρ^k and the 1e-3 horizon line
    ρ         the fitted rate of every probe over training, 1 marked
    pre-clip  the global gradient norm before clipping at every step, with clip_norm marked
"""

import math

import numpy as np

from rnnlm.errors import RnnlmError

from .probe import HORIZON_DROP


def _log10(values):
    a = np.asarray([v if isinstance(v, (int, float)) else np.nan for v in values], np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(a > 0, np.log10(a), np.nan)


def draw(reports, path):
    """Write the figure of every run to `path` (PNG), Agg backend: no display needed."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    heat = [np.array([_log10(x["step_norms"]) for x in r["layers"]]) if r["layers"][0].get(
        "step_norms") else None for r in reports]  # (L, T) each
    finite = np.concatenate([h[np.isfinite(h)] for h in heat if h is not None] or [np.zeros(1)])
    vmin, vmax = float(finite.min()), float(finite.max())
    n = len(reports)
    fig, axes = plt.subplots(n, 4, figsize=(17, 3.4 * n), squeeze=False,
                             gridspec_kw={"width_ratios": [1.4, 1.2, 1, 1]})
    for row, (rep, h) in enumerate(zip(reports, heat)):
        ax_h, ax_p, ax_r, ax_c = axes[row]
        title = f"{rep['run']} ({rep['cell']}, step {rep['step']})"
        if h is not None:
            T = h.shape[1]
            im = ax_h.imshow(h, aspect="auto", origin="lower", cmap="viridis", vmin=vmin,
                             vmax=vmax, extent=(0.5, T + 0.5, -0.5, h.shape[0] - 0.5),
                             interpolation="nearest")
            ax_h.set_yticks(range(h.shape[0]))
            fig.colorbar(im, ax=ax_h, label="log10 ‖∂L/∂h_t‖")
        ax_h.set(title=title, xlabel="time step t", ylabel="layer")
        _probe(ax_p, rep)
        _rates(ax_r, rep)
        _clip(ax_c, rep)
    fig.tight_layout()
    try:
        fig.savefig(path, dpi=80, format="png")  # exactly `path`: no ".png" added to it
    except OSError as e:
        raise RnnlmError(f"cannot write {path}: {e.strerror}; choose another --png path") from None
    finally:
        plt.close(fig)


def _probe(ax, rep):
    ax.set(title="last-position probe", xlabel="k (steps back from the last position)",
           ylabel="‖∂ℓ_T/∂h_{T-k}‖")
    if rep["probe_step"] is None:
        ax.text(0.5, 0.5, "probe off:\n--set train.probe_every=50", ha="center", va="center",
                transform=ax.transAxes)
        return
    for x in rep["layers"]:
        a = np.asarray(x["probe_norms"], np.float64)
        k = np.arange(len(a))
        hz = "beyond T" if x["horizon"] is None else str(x["horizon"])
        rho = "n/a" if x["rho"] is None else f"{x['rho']:.3f}"
        line, = ax.semilogy(k, np.where(a > 0, a, np.nan),
                            label=f"layer {x['layer']}: ρ {rho}, horizon {hz}, {x['verdict']}")
        if x["rho"] and a[0] > 0 and x["fit_points"] > 1:
            m = x["fit_points"]
            c = math.exp(np.polyfit(k[:m], np.log(a[:m]), 1)[1])  # the fit's intercept
            ax.semilogy(k[:m], c * x["rho"] ** k[:m], ls=":", color=line.get_color())  # fitted range
            ax.axhline(HORIZON_DROP * a[0], color=line.get_color(), lw=0.6, ls="--")
    ax.legend(fontsize=7, loc="best")
    ax.set_title(f"probe at step {rep['probe_step']} (dotted: fit, dashed: 1e-3 of k=0)")


def _rates(ax, rep):
    h = rep["history"]
    ax.set(title="ρ over training", xlabel="step", ylabel="ρ per step")
    if not h:
        return
    steps = [r["step"] for r in h]
    for l in range(len(h[0]["rho"])):
        ax.plot(steps, [np.nan if r["rho"][l] is None else r["rho"][l] for r in h], marker="o",
                ms=3, label=f"layer {l}")
    ax.axhline(1.0, color="grey", lw=0.8, ls="--")
    ax.legend(fontsize=7)


def _clip(ax, rep):
    c = rep["clipping"]
    rate = "n/a" if c["clip_rate"] is None else f"{100 * c['clip_rate']:.0f}%"
    ax.set(title=f"pre-clip global norm, clipped on {rate}", xlabel="step",
           ylabel="global norm")
    if c["pre_clip_norm"]:
        ax.semilogy(c["pre_clip_norm"]["series"], lw=0.8)
    if c["clip_norm"]:
        ax.axhline(c["clip_norm"], color="red", lw=0.8, ls="--", label=f"clip_norm {c['clip_norm']:g}")
        ax.legend(fontsize=7)
