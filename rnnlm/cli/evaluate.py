"""`rnnlm eval`: the loss of a run's checkpoint on a split of its data or on any text."""

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from rnnlm.errors import RnnlmError

from .app import CheckpointOpt, JsonOpt, RunArg, _print_json, app, in_range, user_errors

class Split(str, Enum):
    valid = "valid"
    test = "test"


@app.command("eval")
@user_errors
def eval_(run_dir: RunArg,
          text: Annotated[Optional[Path], typer.Option(metavar="FILE",
                                                       help="Evaluate on this text file.")] = None,
          split: Annotated[Split, typer.Option(metavar="valid|test", case_sensitive=False,
                                               help="Or on a split of the run's corpus.")] = Split.test,
          bptt: Annotated[Optional[int], typer.Option(
              metavar="T", help="Window length, state carried across windows (default: "
                                       "the run's train.bptt).")] = None,
          streams: Annotated[Optional[int], typer.Option(
              metavar="N", help="Cut the text into N parallel streams, each from a zero "
                                       "state (default: as training validates, train.batch_size, "
                                       "fewer for a short text); 1 = one sequence.")] = None,
          per_token: Annotated[Optional[Path], typer.Option(
              metavar="FILE", help="Also write each token's text and log-probability to FILE as "
                                   "JSON lines (scores the text as one stream; FILE must not "
                                   "exist yet).")] = None,
          checkpoint: CheckpointOpt = "best",
          json_: JsonOpt = False):
    """Loss (nats/token), bits per token and per character, and perplexity on a text, measured
    the way training validates (so `--split valid` gives training's valid loss); --streams 1 for
    one sequence."""
    from rnnlm.errors import DataError, TextFileError, UnknownSymbolsError
    from rnnlm.infer.data import file_text, split_text
    from rnnlm.infer.evaluate import evaluate_ids, protocol_words, summary, validation_streams
    from rnnlm.infer.load import load_run
    in_range("--bptt", bptt, lo=1)
    in_range("--streams", streams, lo=1)
    run = load_run(run_dir, checkpoint)
    if text is not None:
        try:
            ids, size, source = file_text(run, text)
        except TextFileError as e:
            raise DataError(f"--text '{text}' {e.problem}: {_text_fix(e.problem)}") from None
        except UnknownSymbolsError as e:
            raise DataError(f"--text '{text}' has {e.count} character(s) this run never saw in "
                            f"training ({', '.join(map(repr, e.symbols))}): a char model scores "
                            "only text made of its training characters; remove them or pick "
                            "another text") from None
    else:
        ids, size, source = split_text(run, split.value)
    if len(ids) < 2:
        raise DataError(f"{source} has fewer than 2 tokens: nothing to evaluate; pick a longer text")
    bptt = bptt or run.config.train.bptt
    if per_token is not None:
        if streams not in (None, 1):
            raise RnnlmError("--per-token scores the text as one stream, in order: drop --streams")
        streams = 1
    streams = streams or validation_streams(len(ids), run.config.train.batch_size)
    if streams > (len(ids) - 1) // 2 and streams > 1:
        raise DataError(f"--streams {streams} is too many for {source} ({len(ids)} tokens, each "
                        f"stream needs 2): use at most {max(1, (len(ids) - 1) // 2)}")
    if per_token is not None:
        from rnnlm.infer.per_token import write_per_token
        loss, tokens = write_per_token(run, ids, bptt, per_token)
    else:
        loss, tokens = evaluate_ids(run.params, run.spec, ids, bptt, streams)
    result = dict(summary(loss, tokens, size), unknown=size.get("unknown", 0), source=source,
                  step=run.meta.get("step"), streams=streams, bptt=bptt)
    if json_:
        _print_json(result)
    else:
        per_char = (f", {result['bits_per_char']:.4f} bits/char, {result['bits_per_byte']:.4f} bits/byte"
                    if result.get("bits_per_char") is not None else "")
        unknown = f"; {result['unknown']} unknown token(s) scored as <unk>" if result["unknown"] else ""
        typer.echo(f"{source}: {tokens} tokens ({protocol_words(streams, bptt)}), "
                   f"loss {loss:.4f} nats/token, {result['bits_per_token']:.4f} bits/token"
                   f"{per_char}, perplexity {result['perplexity']:.3f}{unknown}")


def _text_fix(problem):
    """The fix for an unusable --text file (the corpus advice is about data.corpus)."""
    if problem in ("not found", "is a directory"):
        return "pass --text the path of a text file"
    if problem.startswith(("is empty", "has no text")):
        return "pass --text a file with text in it"
    return "this run reads UTF-8 text: convert the file to UTF-8 (e.g. iconv -t utf-8)"
