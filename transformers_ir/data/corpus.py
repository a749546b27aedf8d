"""Documents as they enter: every corpus line or document checked where it is read, errors naming where it is.

A document is ``{"docno": str, "text": str, "title": str (optional)}``. A docno is a non-empty string without
whitespace (engines cut a docno at its first space: ``"15 b"`` would silently become ``15``), unique in the corpus;
``text`` and ``title`` are strings (or null, read as empty). A corpus with no documents is an error. Duplicates
are found with 8 bytes of memory per document (a hash), so checking scales to MS MARCO-size corpora; their
places are named at the end of the pass, before anything built from it is installed.
"""
from __future__ import annotations

import hashlib
import json
from array import array
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from ..core import InputFormatError, TirError
from .text_files import read_lines

FIELDS = ("title", "text")


class CorpusError(TirError, ValueError):
    """A corpus that cannot be indexed as it is (empty, duplicate docnos, a bad document)."""


def _docno_problem(docno: object) -> str | None:
    if not isinstance(docno, str):
        return f"'docno' must be a string, found {type(docno).__name__} {docno!r}"
    if not docno:
        return "'docno' is empty"
    if any(c.isspace() for c in docno):
        return f"docno {docno!r} contains whitespace (search engines would cut it at the first space)"
    return None


def _fields_problem(doc: dict) -> str | None:
    for field in FIELDS:
        value = doc.get(field)
        if value is not None and not isinstance(value, str):
            return f"{field!r} must be a string, found {type(value).__name__}"
    return None


def _hash(docno: str) -> int:
    return int.from_bytes(hashlib.blake2b(docno.encode(), digest_size=8).digest(), "little")


class DocnoChecker:
    """Checks each docno as it passes and, at :meth:`finish`, that none repeats and that there was one."""

    def __init__(self, where: Callable[[int], str], docno_at: Callable[[int], str] | None = None):
        self.where, self.docno_at = where, docno_at  # position -> "file:line" / "document #n"; position -> docno
        self.hashes, self.positions = array("Q"), array("q")

    def check(self, position: int, doc: object) -> dict:
        if not isinstance(doc, dict):
            raise CorpusError(f"{self.where(position)}: a document must be a JSON object with 'docno' and 'text', "
                              f"found {type(doc).__name__}")
        if "docno" not in doc:
            raise CorpusError(f"{self.where(position)}: document has no 'docno'")
        problem = _docno_problem(doc["docno"]) or _fields_problem(doc)
        if problem:
            raise CorpusError(f"{self.where(position)}: {problem}")
        self.hashes.append(_hash(doc["docno"]))
        self.positions.append(position)
        return doc

    def finish(self, source: str) -> int:
        """The number of documents; raises :class:`CorpusError` on none, or on a repeated docno (naming both)."""
        if not self.hashes:
            raise CorpusError(f"{source}: the corpus has no documents")
        hashes = np.frombuffer(self.hashes, dtype=np.uint64)
        order = np.argsort(hashes, kind="stable")
        for i in np.flatnonzero(hashes[order][1:] == hashes[order][:-1]):
            first, second = int(self.positions[order[i]]), int(self.positions[order[i + 1]])
            if self.docno_at is None:
                raise CorpusError(f"{self.where(second)} repeats the docno of {self.where(first)}")
            docno = self.docno_at(second)
            if docno == self.docno_at(first):  # (not a 64-bit hash collision)
                raise CorpusError(f"duplicate docno {docno!r}: {self.where(second)} repeats {self.where(first)}")
        return len(self.hashes)


def read_jsonl_corpus(path: str | Path) -> Iterator[dict]:
    """The documents of a JSON-lines corpus (``.gz`` too), each line checked; see the module."""
    path = Path(path)
    checker = DocnoChecker(lambda line: f"{path}:{line}", lambda line: _docno_on_line(path, line))
    for lineno, line in read_lines(path):
        try:
            doc = json.loads(line)
        except json.JSONDecodeError as e:
            raise InputFormatError(path, lineno, f"invalid JSON: {e.msg}", e.colno) from None
        doc = checker.check(lineno, doc)
        out = {"docno": doc["docno"], "text": doc.get("text") or ""}
        if "title" in doc:
            out["title"] = doc["title"] or ""
        yield out
    checker.finish(str(path))


def _docno_on_line(path: Path, lineno: int) -> str:
    from .text_files import line_at
    return json.loads(line_at(path, lineno))["docno"]


def checked_documents(docs: Iterable[dict], source: str, again: Callable[[], Iterable[dict]] | None = None
                      ) -> Iterator[dict]:
    """``docs`` (from anything but a corpus file) checked as :func:`read_jsonl_corpus` checks lines, positions
    named as ``document #n`` of ``source``; ``again()`` iterates them anew to name a duplicate docno."""
    def docno_at(position: int) -> str:
        return next(d["docno"] for i, d in enumerate(again(), start=1) if i == position)

    checker = DocnoChecker(lambda i: f"{source}, document #{i}", docno_at if again is not None else None)
    for i, doc in enumerate(docs, start=1):
        yield checker.check(i, doc)
    checker.finish(source)


def document_text(doc) -> str:
    """What a stage reads of a document (a dict or a results row): ``title + " " + text``, stripped — BEIR's and
    Anserini's "flat" text; a missing or non-text field reads as empty."""
    return " ".join(v for v in (doc.get("title"), doc.get("text")) if isinstance(v, str) and v).strip()


def document_texts(frame) -> list[str]:
    """:func:`document_text` of every row of a frame with ``text`` (and, when present, ``title``) columns."""
    text = frame["text"].where(frame["text"].map(lambda v: isinstance(v, str)), "")
    if "title" in frame.columns:
        title = frame["title"].where(frame["title"].map(lambda v: isinstance(v, str)), "")
        text = (title + " " + text).str.strip()
    else:
        text = text.str.strip()
    return text.tolist()
