"""The README's config reference, generated from the schema and the registries.

`python -m rnnlm.config.reference` prints the table; `make reference` writes it into README.md
between the `<!-- keys -->` markers, and a test checks that the README holds exactly this table.
"""

import sys
from pathlib import Path

from .schema import describe_keys

BEGIN, END = "<!-- keys -->", "<!-- keys-end -->"


def markdown_table():
    rows = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for key, type_name, default, meaning in describe_keys():
        rows.append(f"| `{key}` | {type_name.replace(' | ', ' / ')} | `{default}` | {meaning} |")
    return "\n".join(rows) + "\n"


def replace_in(text):
    """`text` with the part between the markers replaced by the current table."""
    head, sep, rest = text.partition(BEGIN)
    _, sep2, tail = rest.partition(END)
    if not (sep and sep2):
        raise ValueError(f"README.md lacks the {BEGIN} ... {END} markers")
    return head + BEGIN + "\n" + markdown_table() + END + tail


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        readme = Path("README.md")
        readme.write_text(replace_in(readme.read_text(encoding="utf-8")), encoding="utf-8")
    else:
        sys.stdout.write(markdown_table())
