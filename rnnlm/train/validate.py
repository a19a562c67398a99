"""Evaluate on the validation split and checkpoint: last and step-N always, best when it improved."""

import dataclasses
import math

from rnnlm.console import say
from rnnlm.infer.evaluate import evaluate_streams, summary
from rnnlm.run.checkpoints import save_training, training_checkpoint


def save(run, best=False):
    """Checkpoint the whole training state (last, step-N, and best when asked).

    Under MPI every rank takes part (the hidden state of all B streams is gathered on the root,
    as one process holds it) and the root writes."""
    flat = run.comm.gather_rows([s for layer in run.ts.state for s in layer])
    if flat is None:
        return
    flat = iter(flat)
    state = tuple(tuple(next(flat) for _ in layer) for layer in run.ts.state)
    ts = dataclasses.replace(run.ts, state=state)
    arrays, meta = training_checkpoint(run.params, run.opt, ts, run.cfg, run.tokenizer,
                                        run.data_files)
    meta["world_size"] = run.comm.size
    save_training(run.paths, arrays, meta, run.cfg.train.keep_checkpoints, best)


def validation_loss(run):
    if run.valid is None:
        return None
    loss, _ = evaluate_streams(run.params, run.spec, run.valid, run.cfg.train.bptt)
    return loss


def evaluate_and_checkpoint(run, writer):
    """Evaluate on the validation split; write last, and best when it improved.

    The eval record goes to metrics.jsonl before the checkpoint: a kill between the two leaves a
    record after the newest checkpoint, which a resume drops and writes again."""
    ts = run.ts
    if not run.comm.is_root:  # the root evaluates the whole split and writes; the rest help save
        save(run)
        return None
    valid = validation_loss(run)
    improved = valid is not None and math.isfinite(valid) and valid < ts.best_valid
    if improved:
        ts.best_valid = valid
    record = {"kind": "eval", "step": ts.step, "tokens": ts.tokens, "world_size": run.comm.size}
    if valid is not None:
        s = summary(valid, text=run.valid_size)
        record.update(valid_loss=valid, valid_bits_per_token=s["bits_per_token"],
                      valid_perplexity=s["perplexity"], valid_bits_per_char=s.get("bits_per_char"),
                      valid_bits_per_byte=s.get("bits_per_byte"), best=improved)
        per_char = f", {s['bits_per_char']:.4f} bits/char" if s.get("bits_per_char") is not None else ""
        say(f"step {ts.step}: valid loss {valid:.4f} nats/token{per_char}, "
            f"perplexity {record['valid_perplexity']:.2f}" + (" (best)" if improved else ""))
    writer.write(record)
    save(run, best=improved or valid is None)
    return valid
