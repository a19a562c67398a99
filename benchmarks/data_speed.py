"""Data-side speed and memory of rnnlm: encode MB/s per tokenizer, and a large corpus end to end.

    python benchmarks/data_speed.py                       # encode MB/s of char, byte, word, bpe
    python benchmarks/data_speed.py --big 200             # + a synthetic 200 MB corpus: peak RSS of
                                                          #   100 training steps, twice (the second
                                                          #   from the id cache)

Encoding is timed on the text in memory (not the disk), in blocks of 8 MB as training reads it,
alternating the tokenizers for --rounds rounds and keeping each one's best: the machine is shared,
so the best of a few rounds is the least disturbed figure. Targets: char and byte >= 50 MB/s,
word >= 10 MB/s, bpe >= 2 MB/s. --big needs /usr/bin/time (GNU time) for the peak RSS.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rnnlm.data.tokenizers import make_tokenizer  # noqa: E402
from rnnlm.data.tokenizers.bpe import BpeTokenizer  # noqa: E402
from rnnlm.data.tokenizers.word import WordTokenizer  # noqa: E402

TARGETS = {"char": 50, "byte": 50, "word": 10, "bpe": 2}
BLOCK = 8 << 20


def tokenizers(text):
    train = text[:int(len(text) * 0.9)]
    return {"char": make_tokenizer("char").fit(text), "byte": make_tokenizer("byte"),
            "word": WordTokenizer(word_split="punct").fit(train),
            "bpe": BpeTokenizer(target_size=1024).fit(train)}


def encode_speed(text, rounds):
    toks = tokenizers(text)
    size_mb = len(text.encode("utf-8")) / 1e6
    blocks = [text[i:i + BLOCK] for i in range(0, len(text), BLOCK)]
    best = {name: 0.0 for name in toks}
    for _ in range(rounds):
        for name, tok in toks.items():
            if name == "bpe":
                tok._cache.clear()  # every round from a cold chunk cache
            start = time.perf_counter()
            for b in blocks:
                tok.encode(b)
            best[name] = max(best[name], size_mb / (time.perf_counter() - start))
    for name, mbs in best.items():
        ok = "ok" if mbs >= TARGETS[name] else "BELOW TARGET"
        print(f"encode {name:<5} {mbs:7.1f} MB/s  (target >= {TARGETS[name]} MB/s: {ok})")
    return best


def synthetic_corpus(path, megabytes, source):
    """`megabytes` MB of Shakespeare's lines in a shuffled order (so it is not one text repeated)."""
    import random
    lines = source.splitlines(keepends=True)
    rng = random.Random(0)
    with open(path, "w", encoding="utf-8") as f:
        written = 0
        while written < megabytes * 1e6:
            chunk = "".join(rng.choice(lines) for _ in range(20000))
            f.write(chunk)
            written += len(chunk)


def big_run(megabytes, source):
    folder = Path(tempfile.mkdtemp(prefix="rnnlm-big-"))
    corpus = folder / "big.txt"
    synthetic_corpus(corpus, megabytes, source)
    print(f"synthetic corpus {corpus}: {corpus.stat().st_size / 1e6:.0f} MB")
    rnnlm = Path(sys.executable).parent / "rnnlm"
    for attempt in ("first run (encodes, writes the cache)", "second run (from the cache)"):
        (folder / "cfg.yaml").write_text(
            "data:\n  corpus: big.txt\n  tokenizer: char\n  valid_fraction: 0.001\n  test_fraction: 0.001\n"
            "model:\n  layers: 1\n  embed_size: 16\n  hidden_size: 64\n"
            "train:\n  batch_size: 32\n  bptt: 64\n  max_steps: 100\n  eval_every: 0\n  log_every: 50\n"
            "  sample_length: 0\n")
        cmd = ["/usr/bin/time", "-v", str(rnnlm), "train", str(folder / "cfg.yaml"), "--out", str(folder / "run"),
               "--overwrite", "--no-progress"]
        start = time.perf_counter()
        out = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - start
        if out.returncode != 0:
            print(out.stderr[-2000:])
            raise SystemExit(f"{attempt} failed")
        rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", out.stderr).group(1))
        ready = re.search(r"data: .* ready in ([\d.]+) s", out.stderr)
        print(f"{attempt}: peak RSS {rss / 1024:.0f} MiB, data ready in {ready.group(1) if ready else '?'} s, "
              f"wall {wall:.1f} s (target: peak RSS < 1024 MiB; second run's data < 1 s)")
    print(f"(left in {folder}: delete it when done)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", default=str(ROOT / "corpora" / "tiny-shakespeare.txt"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=8, help="encode the corpus repeated this many times")
    ap.add_argument("--big", type=float, default=0, help="MB of a synthetic corpus to train on (0 = skip)")
    args = ap.parse_args()
    source = Path(args.corpus).read_text(encoding="utf-8")
    encode_speed(source * args.repeat, args.rounds)
    if args.big:
        big_run(args.big, source)


if __name__ == "__main__":
    main()
