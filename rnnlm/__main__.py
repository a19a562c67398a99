"""`python -m rnnlm ...` runs the rnnlm command."""

from rnnlm.cli import main

main()
