"""`rnnlm sample`: text from a run's checkpoint (the work is in rnnlm/infer/generate.py)."""

import sys
from pathlib import Path
from typing import Annotated, List, Optional

import typer

from rnnlm.errors import RnnlmError

from .app import CheckpointOpt, JsonOpt, RunArg, _print_json, app, in_range, user_errors


@app.command()
@user_errors
def sample(run_dir: RunArg,
           length: Annotated[int, typer.Option(metavar="N", help="Tokens to generate.")] = 500,
           temperature: Annotated[float, typer.Option(metavar="T", help="0 = greedy.")] = 1.0,
           top_k: Annotated[int, typer.Option(metavar="K",
                                              help="Keep the k likeliest (0 = all).")] = 0,
           top_p: Annotated[float, typer.Option(
               metavar="P", help="Keep the smallest set of likeliest tokens holding this much "
                                 "probability, 0 < P <= 1 (1 = all).")] = 1.0,
           prompt: Annotated[str, typer.Option(metavar="TEXT",
                                               help="Text to start from (printed first).")] = "",
           prompt_file: Annotated[Optional[Path], typer.Option(
               metavar="FILE", help="Start from the text of this file instead.")] = None,
           seed: Annotated[Optional[int], typer.Option(
               metavar="S", help="Same seed, same text; sample i of --num-samples uses "
                                        "S + i.")] = None,
           num_samples: Annotated[int, typer.Option(
               metavar="N", help="Generate N samples together, as one batch.")] = 1,
           stop: Annotated[Optional[List[str]], typer.Option(
               metavar="STRING", help="End a sample where its text first holds STRING (not "
                                      "printed; repeatable).")] = None,
           beam: Annotated[int, typer.Option(
               metavar="N", help="Beam search of width N for the likeliest continuation "
                                        "instead of sampling (0 = sample).")] = 0,
           length_norm: Annotated[float, typer.Option(
               metavar="ALPHA", help="Beam search: rank by log p / length^ALPHA (0 = "
                                              "total log p).")] = 0.0,
           interactive: Annotated[bool, typer.Option(
               "--interactive", help="A prompt loop: each line typed is a prompt; the state "
                                     "carries over until /reset; /quit ends.")] = False,
           checkpoint: CheckpointOpt = "best",
           json_: JsonOpt = False):
    """Generate text from a run's checkpoint, streamed to stdout (which checkpoint: on stderr)."""
    import numpy as np

    from rnnlm.console import say
    from rnnlm.infer.generate import (SampleOptions, check_options, encode_prompt, generate_samples,
                                 interactive as prompt_loop, read_prompt_file, records)
    from rnnlm.infer.load import load_run
    for option, value, lo, hi in (("--temperature", temperature, 0.0, None), ("--top-k", top_k, 0, None),
                                  ("--seed", seed, 0, None), ("--num-samples", num_samples, 1, 4096),
                                  ("--beam", beam, 0, None), ("--length-norm", length_norm, 0.0, None)):
        in_range(option, value, lo, hi)
    if prompt and prompt_file is not None:
        raise RnnlmError("--prompt and --prompt-file both give a prompt: pass one of them")
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % 2 ** 31)
    opts = SampleOptions(length, temperature, top_k, top_p, seed, num_samples, tuple(stop or ()),
                         beam, length_norm)
    run = load_run(run_dir, checkpoint)
    check_options(opts, run.tokenizer.vocab_size)
    say(f"sampling from {run.path} (step {run.meta.get('step')}), seed {seed}")
    if interactive:
        prompt_loop(run, opts, read=lambda: input("> "), say=say,
                    write=lambda text: (sys.stdout.write(text), sys.stdout.flush()))
        return
    option = "--prompt-file" if prompt_file is not None else "--prompt"
    text = read_prompt_file(prompt_file) if prompt_file is not None else prompt
    prompt_ids = encode_prompt(run.tokenizer, text, option)
    if json_:
        rows = generate_samples(run, prompt_ids, opts)
        _print_json({"checkpoint": str(run.path), "step": run.meta.get("step"), "prompt": text,
                     "samples": records(run, prompt_ids, rows)})
        return
    if num_samples == 1:  # streamed as it is made
        sys.stdout.write(text)
        generate_samples(run, prompt_ids, opts,
                         show=lambda i, piece: (sys.stdout.write(piece), sys.stdout.flush()))
        sys.stdout.write("\n")
        return
    for row in generate_samples(run, prompt_ids, opts):
        sys.stdout.write(f"--- sample {row.seed - seed + 1} of {num_samples} (seed {row.seed}) ---\n")
        sys.stdout.write(text + row.text + "\n")
