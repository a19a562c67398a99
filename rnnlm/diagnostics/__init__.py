"""Gradient-flow diagnostics: the probe taken while training (probe.py) and its reading by
`rnnlm inspect` (report.py builds it, terminal.py and plot.py draw it)."""
