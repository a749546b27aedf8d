"""Reading a collection's text files line by line, as users write them: plain or gzip, UTF-8 with or without a
byte-order mark, LF or CRLF line ends. Bytes that are not UTF-8 are an error naming the file, line and column."""
from __future__ import annotations

import gzip
from pathlib import Path
from typing import IO, Iterator

from ..core import InputFormatError

BOM = b"\xef\xbb\xbf"


def open_binary(path: str | Path) -> IO[bytes]:
    """``path`` opened for reading bytes, decompressed when its name ends in ``.gz``."""
    return gzip.open(path, "rb") if str(path).endswith(".gz") else open(path, "rb")


def read_lines(path: str | Path, skip_blank: bool = True) -> Iterator[tuple[int, str]]:
    """``(line number, text)`` of each line of ``path`` without its line end (``\\n`` or ``\\r\\n``); a UTF-8 BOM
    at the start is dropped; blank lines are skipped unless ``skip_blank`` is False."""
    with open_binary(path) as f:
        for lineno, raw in enumerate(f, start=1):
            if lineno == 1 and raw.startswith(BOM):
                raw = raw[len(BOM):]
            raw = raw.rstrip(b"\r\n")
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise InputFormatError(path, lineno, f"invalid UTF-8 (byte 0x{raw[e.start]:02x}); save the file as "
                                                     f"UTF-8", column=e.start + 1) from None
            if skip_blank and not line.strip():
                continue
            yield lineno, line


def line_at(path: str | Path, lineno: int) -> str:
    """The text of line ``lineno`` of ``path`` (as :func:`read_lines` reads it)."""
    for number, line in read_lines(path, skip_blank=False):
        if number == lineno:
            return line
    raise IndexError(f"{path} has no line {lineno}")
