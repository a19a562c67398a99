"""Validation quality of runs at given minutes of training: the README's quality figures.

    python benchmarks/quality_at.py runs/a runs/b --minutes 5 30 120 [--clock cpu|wall]

For each run and each minute mark, the last evaluation at or before the mark (from the "eval"
records of metrics.jsonl, which carry `seconds` and `cpu_seconds`): its validation loss, the best
one so far, bits per character and perplexity. `--clock cpu` (the default) reads the process's
CPU time, which for a one-thread run is the time on its core however busy the machine was.
"""

import argparse
import json
import math
from pathlib import Path


def read(run):
    """(eval records with a validation loss, the last record of any kind)."""
    records = [json.loads(line) for line in (Path(run) / "metrics.jsonl").read_text().splitlines()]
    return [r for r in records if r["kind"] == "eval" and "valid_loss" in r], records[-1]


def at(records, key, minutes):
    """(record, best loss so far) of the last evaluation at or before `minutes`; None before any."""
    best, found = math.inf, None
    for r in records:
        if r.get(key) is None or r[key] > 60 * minutes:
            break
        best, found = min(best, r["valid_loss"]), r
    return None if found is None else (found, best)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--minutes", nargs="+", type=float, default=[5, 30, 120])
    ap.add_argument("--clock", choices=("cpu", "wall"), default="cpu")
    a = ap.parse_args()
    key = "cpu_seconds" if a.clock == "cpu" else "seconds"
    print(f"{'run':<28} {'min':>5} {'at':>6} {'step':>7} {'valid':>7} {'best':>7} "
          f"{'bits/char':>9} {'ppl(best)':>9}")
    for run in a.runs:
        records, last = read(run)
        for m in a.minutes:
            got = at(records, key, m)
            if got is None:
                print(f"{Path(run).name:<28} {m:>5g}   (no evaluation yet)")
                continue
            r, best = got
            if last.get(key, 0) < 60 * m:  # the run has not (yet) trained that long
                print(f"{Path(run).name:<28} {m:>5g}   (only {last.get(key, 0) / 60:.1f} minutes so far)")
                continue
            bpc = r.get("valid_bits_per_char")
            scale = bpc / r["valid_loss"] if bpc else None  # bits/char per nat/token
            print(f"{Path(run).name:<28} {m:>5g} {r[key] / 60:>6.1f} {r['step']:>7} "
                  f"{r['valid_loss']:>7.4f} {best:>7.4f} "
                  f"{best * scale if scale else float('nan'):>9.4f} {math.exp(best):>9.2f}")


if __name__ == "__main__":
    main()
