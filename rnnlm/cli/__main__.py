"""`python -m rnnlm.cli ...`."""

from rnnlm.cli import main

main()
