"""The data side: tokenizers (one module per kind), the corpus and its splits, batching into
windows. Imports no math: ids come out as int32 numpy arrays."""
