"""`rnnlm gradcheck`: finite differences against every analytic gradient of a small copy of the model."""

import dataclasses
from pathlib import Path
from typing import Annotated, Optional

import typer

from .app import JsonOpt, SetOpt, _print_json, app, user_errors


@app.command()
@user_errors
def gradcheck(config: Annotated[Optional[Path], typer.Argument(
                  metavar="CONFIG", help="YAML config (default: every key at its default).")] = None,
              set_: SetOpt = None,
              json_: JsonOpt = False):
    """Check every analytic gradient of a small float64 copy of the model by finite differences."""
    from rnnlm.config import build, load_config
    from rnnlm.model.gradcheck import TOLERANCE, check_config, small_spec
    cfg = load_config(config, set_ or ())
    # the small copy has its own vocabulary (11) and, for the adaptive head, its own cutoffs:
    # the config's are for its corpus, so the spec is built as a full head, then given its head
    full = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, head="full"))
    spec = small_spec(dataclasses.replace(build.model_spec(full, 11), head=cfg.model.head))
    errors, windows = check_config(spec, build.init_spec(cfg), cfg.train.bptt_mode)
    worst = max(errors.values())
    ok = worst < TOLERANCE
    regs = ", ".join(f"{k} {v}" for k, v in _regularisers(spec)) or "no regulariser"
    if json_:
        _print_json({"cell": spec.cell, "layers": spec.layers, "dropout": spec.dropout,
                     "regularisers": dict(_regularisers(spec)), "bptt_mode": cfg.train.bptt_mode,
                     "windows": windows, "tolerance": TOLERANCE, "worst": worst, "passed": ok,
                     "errors": errors})
    else:
        typer.echo(f"gradient check: {spec.cell}, {spec.layers} layer(s), float64, V={spec.vocab_size} "
                   f"D={spec.embed_size} H={spec.hidden_size}, dropout {spec.dropout}; {regs}; "
                   f"bptt_mode {cfg.train.bptt_mode}: {windows}")
        for name, err in errors.items():
            typer.echo(f"  {name:<14} {err:9.2e}  {'ok' if err < TOLERANCE else 'FAIL'}")
        typer.echo(f"worst relative error {worst:.2e} ({'passed' if ok else 'FAILED'}, "
                   f"tolerance {TOLERANCE:g})")
    if not ok:
        raise typer.Exit(1)


def _regularisers(spec):
    """(name, value) of each regulariser of a spec that is on, for gradcheck's header."""
    out = [(f"dropout_{w}", spec.rate(w)) for w in ("embed", "layers", "output") if spec.rate(w)]
    out += [(k, getattr(spec, k)) for k in ("dropout_locked", "dropout_words", "weight_drop",
                                            "tie_weights", "ar", "tar") if getattr(spec, k)]
    return out
