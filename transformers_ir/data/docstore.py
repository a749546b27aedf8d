"""An on-disk docno -> title/text store (SQLite), for stages that need document text."""
from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Iterable, Sequence

import pandas as pd
import pyterrier as pt

from ..core import require_columns

FIELDS = ("title", "text")


class DocStore:
    """Documents keyed by docno in one SQLite file; built once, then read-only."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._conn: sqlite3.Connection | None = None

    def built(self) -> bool:
        return self.path.exists()

    def build(self, docs: Iterable[dict]) -> "DocStore":
        """Write ``docs`` (dicts with ``docno`` and ``text``, optionally ``title``) to the store, atomically."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        if tmp.exists():
            tmp.unlink()
        conn = sqlite3.connect(tmp)
        conn.execute("CREATE TABLE docs (docno TEXT PRIMARY KEY, title TEXT, text TEXT)")
        conn.executemany("INSERT OR REPLACE INTO docs VALUES (?, ?, ?)",
                         ((d["docno"], d.get("title"), d.get("text")) for d in docs))
        conn.commit()
        conn.close()
        os.replace(tmp, self.path)
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


class TextLoader(pt.Transformer):
    """Attaches document ``text`` (and ``title`` where the corpus has titles) to a results frame.

    ``bm25 % 100 >> TextLoader(dataset) >> reranker``; ``fields="*"``: all the corpus has. Unknown docnos raise
    a clear error.
    Not stored in the stage cache (``cache_output``): looking text up again is cheaper than storing it.
    """

    cache_output = False

    def __init__(self, dataset, fields: "Sequence[str] | str" = ("text",)):
        from . import load_dataset
        self.dataset = load_dataset(dataset)
        if fields == "*":
            fields = self.dataset.docstore().fields()
        self.fields = (fields,) if isinstance(fields, str) else tuple(fields)
        unknown = [f for f in self.fields if f not in FIELDS]
        if unknown:
            raise ValueError(f"TextLoader: unknown field(s) {unknown}; choose from {list(FIELDS)}")

    def __repr__(self) -> str:
        return f"TextLoader({self.dataset.name!r}, fields={list(self.fields)})"

    def to_config(self) -> dict:
        return {"dataset": self.dataset.name, "fields": list(self.fields)}

    def fingerprint(self) -> dict:
        return {"corpus": self.dataset.fingerprint(), "fields": list(self.fields)}

    def transform_outputs(self, input_columns: list[str]) -> list[str]:
        require_columns(self, input_columns, ["qid", "docno"])
        return list(input_columns) + [f for f in self.fields if f not in input_columns]

    def transform(self, inp: pd.DataFrame) -> pd.DataFrame:
        self.transform_outputs(list(inp.columns))
        if not len(inp):
            return inp.assign(**{f: pd.Series(dtype=object) for f in self.fields})
        docs = self.dataset.docstore().lookup(inp["docno"].tolist()).set_index("docno")
        missing = pd.Index(inp["docno"]).difference(docs.index)
        if len(missing):
            raise KeyError(f"{self}: docno(s) not in the corpus of {self.dataset.name!r}: {list(missing[:5])}")
        out = inp.copy()
        for field in self.fields:
            out[field] = docs[field].reindex(inp["docno"]).fillna("").to_numpy()
        return out
