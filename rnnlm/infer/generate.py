"""What `rnnlm sample` does with a loaded run: prompts, N samples or a beam, stop strings, the
end-of-sequence token, JSON records and the interactive loop. The CLI parses; this decides.

A sample ends after `length` tokens, at the tokenizer's end-of-sequence token (word and BPE
models; the token itself is not printed), or where its text first contains one of the stop
strings (the text stops just before it). Text is decoded through the tokenizer's stream decoder,
so a byte model prints whole characters and a word model spaces words as its tokenizer documents.
"""

from dataclasses import dataclass

import numpy as np

from rnnlm.errors import DataError, RnnlmError, UnknownSymbolsError

from .beam import beam_search
from .sample import Sampler, token_logprobs

MAX_LENGTH = 1_000_000  # tokens a sample may ask for


@dataclass(frozen=True)
class SampleOptions:
    length: int = 500
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    seed: int = 0  # row i draws with seed + i
    num_samples: int = 1
    stops: tuple = ()
    beam: int = 0  # > 0: beam search of this width instead of sampling
    length_norm: float = 0.0  # beam: score = log p / length**length_norm


def check_options(opts, vocab_size):
    """RnnlmError for settings that cannot work, named by their option."""
    if not 0 <= opts.length <= MAX_LENGTH:
        raise RnnlmError(f"--length {opts.length} is out of range: give 0 to {MAX_LENGTH} tokens")
    if not 0.0 < opts.top_p <= 1.0:
        raise RnnlmError(f"--top-p {opts.top_p} must be > 0 and <= 1 (1 keeps every token; for "
                         "greedy decoding use --temperature 0)")
    if opts.beam > vocab_size:
        raise RnnlmError(f"--beam {opts.beam} is larger than the vocabulary ({vocab_size} "
                         f"tokens): use at most {vocab_size}")
    if opts.beam and opts.num_samples > 1:
        raise RnnlmError("--beam finds the one likeliest continuation: drop --num-samples")
    if any(s == "" for s in opts.stops):
        raise RnnlmError("--stop '' would stop before the first token: give a non-empty string")


def encode_prompt(tokenizer, text, option="--prompt"):
    """Prompt text -> ids. Kinds with an <unk> map unknown words to it; char names what it lacks."""
    unknown = "unk" if getattr(tokenizer, "unk_id", None) is not None else "error"
    try:
        return list(tokenizer.encode(text, unknown=unknown)) if text else []
    except UnknownSymbolsError as e:
        raise RnnlmError(f"{option} has {e.count} character(s) this run never saw in training "
                         f"({', '.join(map(repr, e.symbols))}): leave them out of {option}") from None


def read_prompt_file(path):
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"--prompt-file '{path}' not found: give the path of a text file") from None
    except IsADirectoryError:
        raise DataError(f"--prompt-file '{path}' is a directory: give a text file") from None
    except UnicodeDecodeError as e:
        raise DataError(f"--prompt-file '{path}' is not UTF-8 text (byte {e.start}): convert it "
                        "to UTF-8") from None
    if not text:
        raise DataError(f"--prompt-file '{path}' is empty: put the prompt text in it, or drop "
                        "the option to start from nothing")
    return text


class StopScanner:
    """Text in as it is decoded, text out that is safe to show: a tail that could still grow into
    a stop string is held back; once a stop string appears, everything from it on is dropped."""

    def __init__(self, stops):
        self.stops, self.pending, self.done = tuple(stops), "", False

    def push(self, text):
        if self.done:
            return ""
        self.pending += text
        hits = [i for i in (self.pending.find(s) for s in self.stops) if i >= 0]
        if hits:
            self.done = True
            out, self.pending = self.pending[:min(hits)], ""
            return out
        hold = max((k for s in self.stops for k in range(len(s) - 1, 0, -1)
                    if self.pending.endswith(s[:k])), default=0)
        out, self.pending = self.pending[:len(self.pending) - hold], self.pending[len(self.pending) - hold:]
        return out

    def finish(self):
        out, self.pending = ("" if self.done else self.pending), ""
        return out


class Row:
    """One sample being written: its tokens, its decoder, its stop scanner."""

    def __init__(self, tokenizer, stops, seed, prompt_ids=()):
        self.tokenizer, self.seed, self.ids, self.text = tokenizer, seed, [], ""
        self.decoder, self.scanner, self.done = tokenizer.stream_decoder(), StopScanner(stops), False
        self.decoder.prime(prompt_ids)  # a word model's first word then comes after a space

    def add(self, token):
        """Take one token; returns the text it makes visible ('' once the sample has ended)."""
        if self.done:
            return ""
        self.ids.append(int(token))
        if token == getattr(self.tokenizer, "eos_id", None):
            return self.end()
        out = self.scanner.push(self.decoder.feed(int(token)))
        if self.scanner.done:
            self.done = True
        self.text += out
        return out

    def end(self):
        if self.done:
            return ""
        self.done = True
        out = self.scanner.push(self.decoder.finish()) + self.scanner.finish()
        self.text += out
        return out


def start_id(tokenizer):
    """What an empty prompt feeds: end-of-sequence for kinds that have one, else a newline."""
    if getattr(tokenizer, "eos_id", None) is not None:
        return tokenizer.eos_id
    ids = tokenizer.encode("\n", unknown="skip")
    return int(ids[0]) if len(ids) else 0


def generate_samples(run, prompt_ids, opts, show=None):
    """The samples (a list of Rows), row i drawn with seed opts.seed + i; `show(i, text)` gets
    each piece of visible text as it is made (for streaming)."""
    tok = run.tokenizer
    rows = [Row(tok, opts.stops, opts.seed + i, prompt_ids) for i in range(opts.num_samples)]
    if opts.beam:
        hyp = beam_search(run.params, run.spec, prompt_ids, opts.length, opts.beam,
                          opts.length_norm, getattr(tok, "eos_id", None), start_id(tok))
        tokens = [hyp.tokens]
    else:
        sampler = Sampler(run.params, run.spec, [np.random.default_rng(r.seed) for r in rows],
                          opts.temperature, opts.top_k, opts.top_p)
        sampler.prime(prompt_ids, start_id(tok))
        tokens = _sample_until_done(sampler, rows, opts.length, show)
    if opts.beam:
        for t in tokens[0]:
            _show(show, 0, rows[0].add(t))
    for i, row in enumerate(rows):
        _show(show, i, row.end())
    return rows


def _sample_until_done(sampler, rows, length, show):
    for _ in range(length):
        if all(r.done for r in rows):
            break
        for i, (row, t) in enumerate(zip(rows, sampler.step())):
            _show(show, i, row.add(t))
    return None


def _show(show, i, text):
    if show is not None and text:
        show(i, text)


def records(run, prompt_ids, rows):
    """JSON-ready records: text, token ids, total and per-token log-probability under the model
    (temperature 1, nothing cut: how likely the model finds the text, whatever drew it)."""
    out = []
    for row in rows:
        lp = token_logprobs(run.params, run.spec, prompt_ids, row.ids, start_id(run.tokenizer))
        out.append({"seed": row.seed, "text": row.text, "ids": row.ids,
                    "logprob": float(lp.sum()), "token_logprobs": [float(v) for v in lp]})
    return out


def interactive(run, opts, read, write, say):
    """A prompt loop: each line typed is a prompt, the continuation streams back. The model's
    state carries from turn to turn (it remembers the conversation) until /reset; /quit or end
    of input ends the loop."""
    tok = run.tokenizer
    sampler = Sampler(run.params, run.spec, [np.random.default_rng(opts.seed)], opts.temperature,
                      opts.top_k, opts.top_p)
    say("type a prompt and press Enter; /reset forgets the conversation, /quit ends")
    fresh = True
    while True:
        try:
            line = read()
        except EOFError:
            break
        if line.strip() == "/quit":
            break
        if line.strip() == "/reset":
            fresh = True
            say("(state reset)")
            continue
        try:
            ids = encode_prompt(tok, line)
        except RnnlmError as e:
            say(f"rnnlm: {e}")
            continue
        sampler.prime(ids, start_id(tok), keep_state=not fresh)
        fresh = False
        row = Row(tok, opts.stops, opts.seed, ids)
        for _ in range(opts.length):
            write(row.add(sampler.step()[0]))
            if row.done:
                break
        write(row.end() + "\n")
