"""Stable content hashes used for fingerprints of corpora, indexes and files."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Iterable


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    """sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def files_sha256(paths: Iterable[str | Path]) -> str:
    """One sha256 over several files (their names and contents, in the given order)."""
    h = hashlib.sha256()
    for p in paths:
        h.update(Path(p).name.encode() + b"\0" + file_sha256(p).encode() + b"\0")
    return h.hexdigest()


def value_sha256(value: Any) -> str:
    """sha256 of a JSON-serialisable value, with sorted keys."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()
