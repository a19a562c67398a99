"""Learning byte-pair merges from chunk counts (the training half of bpe.py).

Input: every distinct chunk of the training text as its UTF-8 bytes, with how often it occurs.
Each merge replaces the most frequent adjacent pair of symbols (counted over all chunks, weighted
by their counts) with a new symbol, id 256, 257, ...; ties go to the smallest pair. Counts are
kept up to date incrementally: a merge touches only the chunks that hold the pair, found through
an index pair -> chunks, and a heap with lazy deletion finds the next most frequent pair.
"""

import heapq
from collections import defaultdict


def _pairs(symbols):
    return zip(symbols, symbols[1:])


def _merged(symbols, pair, new_id):
    """symbols with every non-overlapping occurrence of `pair`, left to right, replaced by new_id."""
    out, i, n = [], 0, len(symbols)
    a, b = pair
    while i < n:
        if i + 1 < n and symbols[i] == a and symbols[i + 1] == b:
            out.append(new_id)
            i += 2
        else:
            out.append(symbols[i])
            i += 1
    return out


def learn_merges(chunks, n_merges, min_pair_count=2):
    """Up to n_merges merges [(a, b), ...] (merge k makes id 256 + k) from chunks [(bytes, count)].

    Stops early when no pair occurs min_pair_count times or more: the caller says so."""
    words = [list(data) for data, _ in chunks]
    counts = [count for _, count in chunks]
    pair_count = defaultdict(int)
    where = defaultdict(set)  # pair -> indices of the words that held it (may be stale)
    for w, symbols in enumerate(words):
        for pair in _pairs(symbols):
            pair_count[pair] += counts[w]
            where[pair].add(w)
    heap = [(-c, pair) for pair, c in pair_count.items()]
    heapq.heapify(heap)
    merges = []
    while len(merges) < n_merges and heap:
        neg, pair = heapq.heappop(heap)
        if pair_count.get(pair, 0) != -neg:
            continue  # stale entry: the count changed since it was pushed
        if -neg < min_pair_count:
            break
        new_id = 256 + len(merges)
        merges.append(pair)
        changed = set()
        for w in where.pop(pair):
            old = words[w]
            if not any(p == pair for p in _pairs(old)):
                continue
            new = _merged(old, pair, new_id)
            c = counts[w]
            for p in _pairs(old):
                pair_count[p] -= c
                changed.add(p)
            for p in _pairs(new):
                pair_count[p] += c
                where[p].add(w)
                changed.add(p)
            words[w] = new
        for p in changed:
            c = pair_count[p]
            if c > 0:
                heapq.heappush(heap, (-c, p))
            else:
                del pair_count[p]
    return merges
