"""Reading a text file in blocks, so a corpus of any size is never in memory at once.

Each block ends at a line end (a block is cut after its last newline; the rest starts the next
block), so tokenizers see whole lines and the ids of the blocks, joined, are the ids of the whole
file. A line longer than a block is cut before a space (or, with no space, between two characters)
instead. Text is checked and cleaned as read_corpus() does: strict UTF-8, a leading byte-order mark
dropped, CRLF and lone CR turned into LF; a tokenizer that reads bytes gets the raw bytes.
"""

import os
from pathlib import Path
from typing import Iterator

from rnnlm.errors import TextFileError

BLOCK_BYTES = 8 << 20


def check_file(path: str | os.PathLike, what: str = "corpus", key: str = "data.corpus") -> Path:
    """The path of an existing, non-empty regular file; TextFileError naming the config key
    otherwise (its .problem lets a command that reads another file word its own fix)."""
    p = Path(path)
    if not p.exists():
        # the corpora this checkout's configs use are built by `make corpora`
        hint = " (run `make corpora` for the default)" if key == "data.corpus" else \
            " (run `make corpora` to build it)" if "corpora" in p.parts else ""
        raise TextFileError(p, "not found", f"set {key} to an existing text file{hint}", what)
    if p.is_dir():
        raise TextFileError(p, "is a directory", f"set {key} to a text file", what)
    if p.stat().st_size == 0:
        raise TextFileError(p, "is empty", f"set {key} to a file with text in it", what)
    return p


def _cut(buf: bytes, final: bool, whole_words: bool) -> int:
    """Where to end the next block of buf: after its last newline; else before its last space
    (whole_words) or at a character boundary; len(buf) when final."""
    if final:
        return len(buf)
    nl = buf.rfind(b"\n")
    if nl >= 0:
        return nl + 1
    if whole_words:
        sp = max(buf.rfind(b" "), buf.rfind(b"\t"))
        return sp if sp > 0 else 0  # 0: no space yet, read more
    i = len(buf)
    while i > 0 and (buf[i - 1] & 0xC0) == 0x80:  # back over continuation bytes
        i -= 1
    i = i - 1 if i > 0 and buf[i - 1] >= 0xC0 else i  # and before the start of a cut sequence
    return i - 1 if i > 0 and buf[i - 1] == 0x0D else i  # keep CR LF together


def iter_raw_blocks(path: Path, start: int = 0, end: int | None = None, whole_words: bool = False,
                    block_bytes: int = BLOCK_BYTES) -> Iterator[tuple[int, bytes]]:
    """(offset, bytes) blocks of path[start:end], cut as the module docstring says."""
    with open(path, "rb") as f:
        f.seek(start)
        left = (os.fstat(f.fileno()).st_size if end is None else end) - start
        buf, offset = b"", start
        while left > 0 or buf:
            chunk = f.read(min(block_bytes, left)) if left > 0 else b""
            left = left - len(chunk) if chunk else 0  # a file that shrank ends here
            buf += chunk
            final = left <= 0
            cut = _cut(buf, final, whole_words)
            if cut == 0 and not final:
                continue
            yield offset, buf[:cut]
            offset += cut
            buf = buf[cut:]


def decode_block(data: bytes, offset: int, path: Path) -> str:
    """UTF-8 text of one block at byte `offset` of the file: checked, BOM dropped at offset 0, LF line ends."""
    nul = data.find(b"\x00")
    if nul >= 0:
        raise TextFileError(path, f"looks binary (NUL byte at offset {offset + nul})",
                            "set data.tokenizer=byte, or convert it to UTF-8 text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise TextFileError(path, f"is not valid UTF-8 at byte offset {offset + err.start}",
                            "convert it to UTF-8 or set data.tokenizer=byte") from None
    if offset == 0 and text.startswith("\ufeff"):
        text = text[1:]
    return text.replace("\r\n", "\n").replace("\r", "\n")


def iter_blocks(path: str | os.PathLike, reads_bytes: bool, start: int = 0, end: int | None = None,
                whole_words: bool = False, block_bytes: int = BLOCK_BYTES) -> Iterator[str | bytes]:
    """The blocks of path[start:end]: raw bytes when reads_bytes, else checked UTF-8 text."""
    p = Path(path)
    for offset, data in iter_raw_blocks(p, start, end, whole_words, block_bytes):
        yield data if reads_bytes else decode_block(data, offset, p)


def line_cuts(path: str | os.PathLike, fractions: tuple[float, ...]) -> list[int]:
    """Byte offsets that cut the file after the line that holds each fraction of its size."""
    p = Path(path)
    size = p.stat().st_size
    cuts = []
    with open(p, "rb") as f:
        for frac in fractions:
            if frac <= 0.0 or frac >= 1.0:
                cuts.append(0 if frac <= 0.0 else size)
                continue
            at = max(int(size * frac), cuts[-1] if cuts else 0)
            f.seek(at)
            while at < size:
                data = f.read(1 << 16)
                nl = data.find(b"\n")
                if nl >= 0:
                    at += nl + 1
                    break
                at += len(data)
            cuts.append(min(at, size))
    return cuts
