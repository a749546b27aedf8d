"""A PISA inverted index of a corpus's title + text, built once per corpus and analyzer (see :class:`IndexFolder`)."""
from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Iterable, Iterator

from ..core.index_folder import IndexFolder, index_path, write_manifest
from ..core.progress import show_progress
from ..data import Dataset, checked_documents, document_text, load_dataset
from .analyzer import Analyzer
from .pisa_build import build_text_index, build_toks_index


def _progress_stream() -> IO[str]:
    """A stream to the terminal that stays there while PISA's native output is redirected (fds 1 and 2)."""
    try:
        return os.fdopen(os.dup(sys.stderr.fileno()), "w")
    except (AttributeError, OSError, ValueError):  # no file descriptor (a notebook, a captured stream)
        return sys.stderr


class _SpooledCorpus:
    """Documents from an arbitrary iterable, checked and written once to a temporary JSONL file while hashed."""

    def __init__(self, docs: Iterable[dict]):
        self._dir = tempfile.TemporaryDirectory(prefix="tir-corpus-")
        self.path = Path(self._dir.name) / "corpus.jsonl"
        h = hashlib.sha256()
        with open(self.path, "w", encoding="utf-8") as f:
            for doc in checked_documents(docs, "the documents given to PisaTextIndex.build"):
                line = json.dumps({"docno": doc["docno"], "title": doc.get("title"), "text": doc.get("text")})
                h.update(line.encode())
                f.write(line + "\n")
        self.fingerprint = h.hexdigest()

    def __iter__(self) -> Iterator[dict]:
        with open(self.path, encoding="utf-8") as f:
            for line in f:
                yield json.loads(line)


class PisaTextIndex(IndexFolder):
    """An inverted index over a corpus's title+text, built by PISA, described by ``manifest.json``."""

    def __init__(self, path: str | Path, analyzer: Analyzer = Analyzer(), threads: int = 1):
        self.path = Path(path)
        self.analyzer = analyzer
        self.threads = threads

    @classmethod
    def for_dataset(cls, dataset: "str | Dataset", analyzer: Analyzer = Analyzer(), threads: int = 1) -> "PisaTextIndex":
        """The index of ``dataset`` in the cache folder (``$TIR_CACHE_DIR/indexes``)."""
        dataset = load_dataset(dataset)
        key = {"corpus": dataset.fingerprint(), "analyzer": analyzer.as_dict()}
        return cls(index_path("pisa", dataset.name, key), analyzer, threads)

    def __repr__(self) -> str:
        return f"PisaTextIndex({str(self.path)!r}, stemmer={self.analyzer.stemmer!r}, stopwords={self.analyzer.stopwords})"

    def _current(self, fingerprint: str) -> bool:
        manifest = self.manifest
        return bool(manifest and manifest["corpus_fingerprint"] == fingerprint
                    and manifest["analyzer"] == self.analyzer.as_dict())

    def build(self, docs: "Dataset | str | Iterable[dict]", force: bool = False) -> "PisaTextIndex":
        """Index ``docs`` (a dataset or dicts with ``docno``, ``text``[, ``title``]); a no-op when already built from
        the same corpus. Every document is checked; nothing is installed unless all of them were indexed."""
        if isinstance(docs, (str, Dataset)):
            dataset = load_dataset(docs)
            fingerprint, corpus, source = dataset.fingerprint(), dataset.corpus_iter, dataset.name
        else:
            spool = _SpooledCorpus(docs)
            fingerprint, corpus, source = spool.fingerprint, spool.__iter__, "iterable"
        self.build_once(lambda: self._current(fingerprint), lambda: self._build(corpus(), fingerprint, source), force)
        return self

    def _build(self, docs: Iterable[dict], fingerprint: str, source: str) -> None:
        import pyterrier_pisa
        from tqdm import tqdm  # (tqdm.auto warns in a notebook without ipywidgets)
        start = time.perf_counter()
        stream = _progress_stream() if show_progress() else None
        docs = tqdm(docs, desc=f"PISA: indexing {source}", unit="doc", disable=stream is None, file=stream)
        with self.staging(create=False) as tmp:
            log = tmp.parent / f"{tmp.name}.log"
            try:
                if self.analyzer.pretokenised:
                    count = build_toks_index(tmp, ((d["docno"], self.analyzer.toks(document_text(d))) for d in docs),
                                             self.threads, log)
                else:
                    count = build_text_index(tmp, ((d["docno"], document_text(d)) for d in docs),
                                             self.analyzer.pisa_stemmer, self.analyzer.pisa_stops, self.threads, log)
                log.replace(tmp / "build.log")
            finally:
                log.unlink(missing_ok=True)
                docs.close()
                if stream is not None and stream is not sys.stderr:
                    stream.close()
            write_manifest(tmp, {
                "type": "pisa-text", "source": source, "corpus_fingerprint": fingerprint,
                "analyzer": self.analyzer.as_dict(), "fields": ["title", "text"], "doc_count": count,
                "build_seconds": round(time.perf_counter() - start, 3),
                "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "pyterrier_pisa": pyterrier_pisa.__version__,
            })

    def pisa(self):
        """The underlying ``pyterrier_pisa.PisaIndex``."""
        import pyterrier_pisa
        if not self.built():
            raise FileNotFoundError(f"{self} is not built; call .build(dataset) first")
        return pyterrier_pisa.PisaIndex(str(self.path), stemmer=self.analyzer.pisa_stemmer,
                                        stops=self.analyzer.pisa_stops, threads=self.threads)
