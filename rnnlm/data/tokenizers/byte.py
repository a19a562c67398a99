"""byte: the 256 byte values. Text is encoded as UTF-8; any file trains, nothing is unknown.

A model may sample half a character: decode() replaces invalid UTF-8 with U+FFFD, and the stream
decoder holds back an incomplete UTF-8 sequence until its last byte arrives, so streamed text
prints whole characters ("Fluß", not "Flu��").
"""

from typing import Any

import numpy as np

from .base import Tokenizer, Utf8StreamDecoder, as_ids, bytes_chars


class ByteTokenizer(Tokenizer):
    """The 256 byte values; str input is encoded as UTF-8."""

    kind = "byte"
    reads_bytes = True
    vocab_size = 256

    def encode(self, text: str | bytes, unknown: str = "error") -> np.ndarray:
        """Text (UTF-8 encoded) or raw bytes -> ids (N,) int32. `unknown` is accepted for a common API."""
        data = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else bytes(text)
        return np.frombuffer(data, dtype=np.uint8).astype(np.int32)  # (N,)

    def decode_bytes(self, ids: Any) -> bytes:
        """ids -> the raw bytes."""
        return as_ids(ids, 256).astype(np.uint8).tobytes()

    def decode(self, ids: Any) -> str:
        """ids -> text; invalid UTF-8 becomes U+FFFD."""
        return self.decode_bytes(ids).decode("utf-8", errors="replace")

    def text_size(self, ids: Any) -> tuple[int, int]:
        """(characters, bytes): one byte per id; characters are the bytes that start one."""
        arr = np.asarray(ids).reshape(-1)
        return bytes_chars(arr), int(arr.size)

    def stream_decoder(self) -> "Utf8StreamDecoder":
        return Utf8StreamDecoder(self)

    def to_dict(self) -> dict:
        return {"kind": "byte"}

    @classmethod
    def from_dict(cls, d: Any) -> "ByteTokenizer":
        return cls()
