"""The one way rnnlm talks to the user outside a command's result: lines on stderr.

``say`` for progress and diagnostics, ``warn`` for something the user should know ("rnnlm:
warning: ..."). Both go through tqdm.write so an active progress bar is redrawn below the line
instead of being torn. Results (samples, JSON, reports) are the commands' own, on stdout.
"""

import sys

from tqdm import tqdm


def say(msg):
    tqdm.write(str(msg), file=sys.stderr)
    sys.stderr.flush()


def warn(msg):
    say(f"rnnlm: warning: {msg}")
