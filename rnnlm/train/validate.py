"""Evaluate on the validation split and checkpoint: last and step-N always, best when it improved."""

import dataclasses
import math

import numpy as np

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
                                        run.schedule, run.data_files)
    meta["world_size"] = run.comm.size
    save_training(run.paths, arrays, meta, run.cfg.train.keep_checkpoints, best)


def validation_loss(run):
    if run.valid is None:
        return None
    params = run.opt.eval_params(run.params)  # NT-ASGD: the averaged weights
    with np.errstate(over="ignore", invalid="ignore"):  # a diverged model: inf/NaN, handled below
        loss, _ = evaluate_streams(params, run.spec, run.valid, run.cfg.train.bptt)
    return loss


def evaluate_and_checkpoint(run, writer, clock):
    """Evaluate on the validation split; write last, and best when it improved.

    The eval record goes to metrics.jsonl before the checkpoint: a kill between the two leaves a
    record after the newest checkpoint, which a resume drops and writes again."""
    ts, comm = run.ts, run.comm
    # the root evaluates the whole split; every rank then knows the loss, so the schedule, the
    # optimizer's trigger and early stopping move alike on all of them
    valid = comm.share(validation_loss(run) if comm.is_root else None)
    improved = valid is not None and math.isfinite(valid) and valid < ts.best_valid
    if improved:
        ts.best_valid = valid
    ts.stalls = 0 if improved or valid is None else ts.stalls + 1
    record = {"kind": "eval", "step": ts.step, "tokens": ts.tokens, "world_size": comm.size}
    if valid is not None:
        s = summary(valid, text=run.valid_size)
        record.update(valid_loss=valid, valid_bits_per_token=s["bits_per_token"],
                      valid_perplexity=s["perplexity"], valid_bits_per_char=s.get("bits_per_char"),
                      valid_bits_per_byte=s.get("bits_per_byte"), best=improved)
        per_char = f", {s['bits_per_char']:.4f} bits/char" if s.get("bits_per_char") is not None else ""
        comm.say(f"step {ts.step}: valid loss {valid:.4f} nats/token{per_char}, "
                 f"perplexity {record['valid_perplexity']:.2f}" + (" (best)" if improved else ""))
        notes = [n for n in (run.opt.observe(valid), run.schedule.observe(valid)) if n]
        for note in notes:
            comm.say(f"step {ts.step}: {note}")
        if notes:
            record["notes"] = notes
    clock.stamp(record)  # the time at the end of the evaluation
    writer.write(record)  # a NullWriter off the root
    save(run, best=improved or valid is None)
    return valid
