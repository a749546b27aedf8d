"""Indexes stored as folders under the cache and described by a ``manifest.json``: one build lifecycle.

Every index kind builds the same way: under :meth:`IndexFolder.lock` (a file lock beside the folder, so of several
processes sharing a cache one builds and the others wait, then reuse it), it checks again whether the index is
current, writes into a fresh :meth:`IndexFolder.staging` folder (a unique name: builders never share a file), writes
``manifest.json`` last, and the staging folder replaces the index in one rename — or is removed on any error, so
no half-built index is ever installed. A built index is read without the lock (a read-only cache works).
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator

from .atomic import atomic_write_text
from .hashing import value_sha256
from .paths import cache_dir

MANIFEST = "manifest.json"
IDENTITY_KEYS = ("type", "corpus_fingerprint", "analyzer", "model", "encoder", "scale", "pool_factor", "docids_sha256",
                 "doc_count")


def write_manifest(folder: Path, manifest: dict) -> None:
    """Write ``manifest.json`` into a staging ``folder`` (the last file of a build), with the folder's size."""
    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    atomic_write_text(folder / MANIFEST, json.dumps({**manifest, "size_bytes": size}, indent=2, default=str))


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

    def build_once(self, current: Callable[[], bool], build: Callable[[], None], force: bool = False) -> None:
        """Run ``build`` (which stages and installs) unless ``current()`` says the built index is what is wanted —
        asked again under the lock, so of several processes one builds and the others reuse its index."""
        if not force and current():
            return
        with self.lock():
            if force or not current():
                build()

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the build lock of this index (``<path>.lock``); blocks while another process builds it."""
        from filelock import FileLock
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(f"{self.path}.lock"):
            yield

    @contextlib.contextmanager
    def staging(self, create: bool = True) -> Iterator[Path]:
        """A fresh folder beside the index to build into (``create=False``: its unique path, not yet created, for
        engines that create their folder). When the block ends without error the folder, which must hold
        ``manifest.json`` by then, replaces the index in one rename; on any error it is removed."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{self.path.name}.", suffix=".staging", dir=self.path.parent))
        if not create:
            tmp.rmdir()
        try:
            yield tmp
            if not (tmp / MANIFEST).exists():
                raise RuntimeError(f"{self}: the build wrote no {MANIFEST}; not installed")
            self._install(tmp)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)

    def _install(self, tmp: Path) -> None:
        """Replace ``self.path`` by the fully built folder ``tmp`` (renames: readers never see half an index)."""
        if self.path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{self.path.name}.", suffix=".old", dir=self.path.parent))
            os.replace(self.path, old / "index")
            os.replace(tmp, self.path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, self.path)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r})"
