"""Evaluate on the validation split and checkpoint: last and step-N always, best when it improved."""

import math

from rnnlm.console import say
from rnnlm.infer.evaluate import evaluate_streams, summary
from rnnlm.run.checkpoints import save_training, training_checkpoint


def save(run, best=False):
    """Checkpoint the whole training state (last, step-N, and best when asked)."""
    arrays, meta = training_checkpoint(run.params, run.opt, run.ts, run.cfg, run.tokenizer,
                                       run.schedule)
    save_training(run.paths, arrays, meta, run.cfg.train.keep_checkpoints, best)


def validation_loss(run):
    if run.valid is None:
        return None
    params = run.opt.eval_params(run.params)  # NT-ASGD: the averaged weights
    loss, _ = evaluate_streams(params, run.spec, run.valid, run.cfg.train.bptt)
    return loss


def evaluate_and_checkpoint(run, writer):
    """Evaluate on the validation split; write last, and best when it improved.

    The eval record goes to metrics.jsonl before the checkpoint: a kill between the two leaves a
    record after the newest checkpoint, which a resume drops and writes again."""
    ts = run.ts
    valid = validation_loss(run)
    improved = valid is not None and math.isfinite(valid) and valid < ts.best_valid
    if improved:
        ts.best_valid = valid
    ts.stalls = 0 if improved or valid is None else ts.stalls + 1
    record = {"kind": "eval", "step": ts.step, "tokens": ts.tokens}
    if valid is not None:
        s = summary(valid)
        record.update(valid_loss=valid, valid_bits_per_token=s["bits_per_token"],
                      valid_perplexity=s["perplexity"], best=improved)
        say(f"step {ts.step}: valid loss {valid:.4f} nats/token, "
            f"perplexity {record['valid_perplexity']:.2f}" + (" (best)" if improved else ""))
        notes = [n for n in (run.opt.observe(valid), run.schedule.observe(valid)) if n]
        for note in notes:
            say(f"step {ts.step}: {note}")
        if notes:
            record["notes"] = notes
    writer.write(record)
    save(run, best=improved or valid is None)
    return valid
