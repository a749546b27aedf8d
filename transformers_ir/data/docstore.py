"""An on-disk docno -> title/text store (SQLite), for stages that need document text."""
from __future__ import annotations

import os
import sqlite3
import tempfile
from pathlib import Path
from typing import Iterable, Sequence

import pandas as pd


FIELDS = ("title", "text")


class DocStore:
    """Documents keyed by docno in one SQLite file; built once, then read-only."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._conn: sqlite3.Connection | None = None

    def built(self) -> bool:
        return self.path.exists()

    def build(self, docs: Iterable[dict]) -> "DocStore":
        """Write ``docs`` (dicts with ``docno`` and ``text``, optionally ``title``) to the store, atomically; under a
        file lock, so of several processes one builds and the others find it built."""
        from filelock import FileLock
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(f"{self.path}.lock"):
            if self.built():
                return self
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
            os.close(fd)
            try:
                conn = sqlite3.connect(tmp)
                conn.execute("CREATE TABLE docs (docno TEXT PRIMARY KEY, title TEXT, text TEXT)")
                conn.executemany("INSERT INTO docs VALUES (?, ?, ?)",
                                 ((d["docno"], d.get("title"), d.get("text")) for d in docs))
                conn.commit()
                conn.close()
                os.replace(tmp, self.path)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
        return self

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
        return self._conn

    def lookup(self, docnos: Sequence[str]) -> pd.DataFrame:
        """``docno, title, text`` for each distinct docno; unknown docnos are absent."""
        unique = list(dict.fromkeys(docnos))
        rows = []
        conn = self._connection()
        for start in range(0, len(unique), 900):  # SQLite's bound-parameter limit
            chunk = unique[start:start + 900]
            marks = ",".join("?" * len(chunk))
            rows.extend(conn.execute(f"SELECT docno, title, text FROM docs WHERE docno IN ({marks})", chunk))
        return pd.DataFrame(rows, columns=["docno", "title", "text"])

    def fields(self) -> list[str]:
        """``["title", "text"]`` when some document has a title, else ``["text"]``."""
        titled = self._connection().execute("SELECT 1 FROM docs WHERE title IS NOT NULL AND title != '' LIMIT 1")
        return ["title", "text"] if titled.fetchone() else ["text"]

    def __len__(self) -> int:
        return self._connection().execute("SELECT COUNT(*) FROM docs").fetchone()[0]
