"""TensorBoard event files for a run (`train.tensorboard: true`, the optional tensorboard extra).

The event writer reads the very records metrics.jsonl gets (a Tee hands every record to both),
so TensorBoard shows what the log holds, under RUN_DIR/tensorboard:

    train/loss, train/perplexity, train/bits_per_token, train/lr      every "train" record
    grad/norm_before_clip, grad/norm_after_clip, grad/clip_rate
    speed/tokens_per_s
    grad/step_norms_heatmap   image: log10 ‖∂L/∂h_t‖, one band per layer (top layer on top),
                              t = 1 on the left, dark = small, yellow = large (viridis), scaled
                              to this record's own range
    valid/loss, valid/perplexity, valid/bits_per_token                every "eval" record
    probe/rho/layer_L, probe/horizon/layer_L                          every "probe" record
                              (the horizon is T when the gradient never falls below 1e-3 of its
                              start inside the window)

tensorboardX needs no deep-learning framework (numpy and protobuf; pillow for the image). Without
them, a config asking for TensorBoard fails before any work with one line naming the install
command.
"""

import math

import numpy as np

from rnnlm.diagnostics.probe import read_curve
from rnnlm.errors import ConfigError
from rnnlm.run.metrics import MetricsWriter

HINT = ("train.tensorboard needs tensorboardX and pillow: in the rnnlm checkout run "
        "`pip install -e '.[tensorboard]'` (or `make extras`), or set train.tensorboard=false")
# A few stops of the viridis colour map (as in the terminal report), interpolated between.
_VIRIDIS = np.array([(68, 1, 84), (72, 40, 120), (62, 74, 137), (49, 104, 142), (38, 130, 142),
                     (31, 158, 137), (53, 183, 121), (109, 205, 89), (180, 222, 44),
                     (253, 231, 37)], np.float64)
_BAND = 16  # pixel rows per layer
_WIDTH = 512  # about this many pixel columns for the window


def check_extra():
    """ConfigError (one line) when tensorboardX is not installed."""
    try:
        import PIL  # noqa: F401  (tensorboardX encodes the heatmap image with it)
        import tensorboardX  # noqa: F401
    except ImportError:
        raise ConfigError(HINT) from None


def open_writer(run):
    """The writer the loop hands every record to: metrics.jsonl, and TensorBoard when asked;
    under MPI only rank 0 writes, the others get a NullWriter."""
    if not run.comm.is_root:
        return NullWriter()
    metrics = MetricsWriter(run.paths.metrics)
    if not run.cfg.train.tensorboard:
        return metrics
    return Tee(metrics, TensorBoardWriter(run.paths.root / "tensorboard"))


class NullWriter:
    """The writer of the ranks that do not write (all but rank 0 under MPI)."""

    def write(self, record):
        pass

    def truncate(self, step):
        pass

    def close(self):
        pass


class Tee:
    """Every record to metrics.jsonl and to the event file; truncation is metrics.jsonl's alone
    (a resumed or rolled-back run writes its steps again; TensorBoard shows the newest)."""

    def __init__(self, metrics, events):
        self.metrics, self.events = metrics, events

    def write(self, record):
        self.metrics.write(record)
        self.events.write(record)

    def truncate(self, step):
        self.metrics.truncate(step)

    def close(self):
        self.metrics.close()
        self.events.close()


class TensorBoardWriter:
    """metrics.jsonl records -> TensorBoard scalars and the heatmap image."""

    def __init__(self, log_dir):
        from tensorboardX import SummaryWriter
        self.tb = SummaryWriter(str(log_dir), flush_secs=10)

    def write(self, record):
        kind, step = record.get("kind"), record.get("step")
        if not isinstance(step, int):
            return
        if kind == "train":
            self._train(record, step)
        elif kind == "eval" and record.get("valid_loss") is not None:
            self._scalars(step, {"valid/loss": record["valid_loss"],
                                 "valid/perplexity": record.get("valid_perplexity"),
                                 "valid/bits_per_token": record.get("valid_bits_per_token")})
        elif kind == "probe":
            for layer, norms in enumerate(record.get("probe_norms") or []):
                curve = read_curve(norms)
                horizon = len(norms) if curve["horizon"] is None else curve["horizon"]
                self._scalars(step, {f"probe/rho/layer_{layer}": curve["rho"],
                                     f"probe/horizon/layer_{layer}": horizon})

    def _train(self, r, step):
        loss = r.get("loss")
        self._scalars(step, {
            "train/loss": loss,
            "train/perplexity": math.exp(min(loss, 700.0)) if _number(loss) else None,
            "train/bits_per_token": r.get("bits_per_token"), "train/lr": r.get("lr"),
            "grad/norm_before_clip": r.get("grad_norm"),
            "grad/norm_after_clip": r.get("grad_norm_clipped"),
            "grad/clip_rate": r.get("clip_rate"), "speed/tokens_per_s": r.get("tokens_per_s")})
        if r.get("step_norms"):
            self.tb.add_image("grad/step_norms_heatmap", heatmap_image(r["step_norms"]), step,
                              dataformats="HWC")

    def _scalars(self, step, values):
        for tag, v in values.items():
            if _number(v):
                self.tb.add_scalar(tag, float(v), step)

    def close(self):
        self.tb.close()


def _number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def heatmap_image(step_norms):
    """(L, T) norms -> (L * 16, T * w, 3) uint8: log10 norm in viridis, the top layer on top.

    Zero or non-finite norms are black; the colour scale is this window's own min to max."""
    norms = np.asarray(step_norms, np.float64)  # (L, T)
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.where(norms > 0, np.log10(norms), np.nan)
    finite = logs[np.isfinite(logs)]
    lo, hi = (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
    unit = (logs - lo) / (hi - lo) if hi > lo else np.zeros_like(logs)
    pos = np.clip(np.nan_to_num(unit, nan=0.0), 0.0, 1.0) * (len(_VIRIDIS) - 1)
    i = np.minimum(pos.astype(int), len(_VIRIDIS) - 2)
    frac = (pos - i)[..., None]
    rgb = _VIRIDIS[i] * (1 - frac) + _VIRIDIS[i + 1] * frac  # (L, T, 3)
    rgb[~np.isfinite(logs)] = 0.0
    rgb = rgb[::-1]  # the top layer on top, as in `rnnlm inspect`
    w = max(1, _WIDTH // norms.shape[1])
    return np.repeat(np.repeat(rgb, _BAND, axis=0), w, axis=1).astype(np.uint8)
