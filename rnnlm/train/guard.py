"""The non-finite guard: what a step with a NaN or inf loss or gradient leads to.

train.on_nonfinite: skip the step, roll back to the newest checkpoint with a lower learning rate,
or stop. More than MAX_BAD_STREAK in a row ends the run whatever the policy.
"""

from rnnlm.errors import RnnlmError
from rnnlm.run.checkpoints import find_checkpoint

from .setup import restore_run
from .validate import save

MAX_BAD_STREAK = 20  # non-finite steps in a row before giving up


def on_nonfinite(run, out, writer):
    """Handle a non-finite StepResult. Returns whether a checkpoint was written (a rollback
    writes one, with the lower lr)."""
    ts, policy = run.ts, run.cfg.train.on_nonfinite
    ts.nonfinite += 1
    ts.bad_streak += 1
    failed = ts.step + 1
    record = {"kind": "event", "event": "nonfinite", "step": failed, "policy": policy,
              "loss": out.loss, "grad_norm": out.grad_norm, "lr": out.lr}
    run.comm.warn(f"step {failed}: non-finite loss or gradient (loss {out.loss}, norm {out.grad_norm}); "
         f"train.on_nonfinite={policy}")
    if policy == "stop":
        writer.write(record)
        raise RnnlmError(f"loss or gradient became NaN/inf at step {failed}; stopped "
                         "(train.on_nonfinite=stop): lower optim.lr or set optim.clip_norm")
    if ts.bad_streak > MAX_BAD_STREAK:
        writer.write(record)
        raise RnnlmError(f"{ts.bad_streak} non-finite steps in a row at step {failed}: the "
                         "run diverges; lower optim.lr or set optim.clip_norm")
    if policy == "rollback":
        found = find_checkpoint(run.paths)
        if found is None:
            writer.write(record)
            raise RnnlmError(f"non-finite values at step {failed} and no checkpoint to roll "
                             "back to: lower optim.lr or set optim.clip_norm")
        scale = ts.lr_scale * run.cfg.train.rollback_lr_factor
        kept = ts.nonfinite, ts.bad_streak, ts.seconds, ts.cpu_seconds  # time spent stays spent
        restore_run(run, *found)  # every rank: the loss and norm were the same on all
        ts.lr_scale = scale
        ts.nonfinite, ts.bad_streak, ts.seconds, ts.cpu_seconds = kept
        writer.truncate(ts.step)  # the steps after the checkpoint are trained again
        record.update(step=ts.step, failed_step=failed, rolled_back_to=ts.step, lr_scale=scale)
        run.comm.say(f"rnnlm: rolled back to step {ts.step} ({found[0].name}); learning rate now "
            f"x{scale:g}")
        writer.write(record)
        save(run)  # the lower lr survives a kill
        return True
    writer.write(record)
    return False
