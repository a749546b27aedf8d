"""Indexes stored as folders under the cache and described by a ``manifest.json``."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from .hashing import value_sha256
from .paths import cache_dir

MANIFEST = "manifest.json"
IDENTITY_KEYS = ("type", "corpus_fingerprint", "analyzer", "model", "encoder", "scale", "pool_factor", "docids_sha256",
                 "doc_count")


def index_path(kind: str, name: str, key: Any) -> Path:
    """``$TIR_CACHE_DIR/indexes/<kind>-<name>-<hash of key>``: where the index of what ``key`` describes lives."""
    return cache_dir() / "indexes" / f"{kind}-{name}-{value_sha256(key)[:16]}"


class IndexFolder:
    """An index in ``self.path``; its ``manifest.json`` is written last, so it exists only once the index is built."""

    path: Path

    @property
    def manifest(self) -> dict | None:
        try:
            return json.loads((self.path / MANIFEST).read_text())
        except FileNotFoundError:
            return None

    def built(self) -> bool:
        return self.manifest is not None

    def identity(self) -> dict:
        """What the index was built from (from its manifest: kind, corpus, analyzer or model, ...), else its path."""
        manifest = self.manifest
        if manifest is None:
            return {"path": str(self.path)}
        return {k: manifest[k] for k in IDENTITY_KEYS if k in manifest}

    def _install(self, tmp: Path) -> None:
        """Replace ``self.path`` by the fully built folder ``tmp`` (a rename: readers never see half an index)."""
        if self.path.exists():
            shutil.rmtree(self.path)
        os.replace(tmp, self.path)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r})"
