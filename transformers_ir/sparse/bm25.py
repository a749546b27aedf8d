"""BM25 retrieval on PISA as a PyTerrier transformer."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyterrier as pt

from ..core.retriever import retriever_outputs, with_num_results, without_results
from ..data import Dataset, load_dataset
from .analyzer import Analyzer
from .pisa_index import PisaTextIndex, redirect_native_output

class BM25(pt.Transformer):
    """BM25 over a PISA index of ``dataset`` (built on first use) or over an explicit ``index``.

    ``BM25("vaswani", k1=0.9, b=0.4) % 100`` asks PISA for 100 results (the cutoff is fused).
    A query with no indexable terms (only stopwords or punctuation) gets no results.
    ``backend="lucene"`` gives the same stage on Lucene through Pyserini (:class:`LuceneBM25`).
    """

    def __new__(cls, *args, backend: str = "pisa", **kwargs):
        if backend == "lucene":
            from .lucene import LuceneBM25
            return LuceneBM25(*args, **kwargs)
        if backend != "pisa":
            raise ValueError(f"unknown BM25 backend {backend!r}; choose 'pisa' or 'lucene'")
        return super().__new__(cls)

    def __init__(self, dataset: "str | Dataset | None" = None, *, index: "PisaTextIndex | str | Path | None" = None,
                 k1: float = 0.9, b: float = 0.4, num_results: int = 1000, stemmer: str = "porter2",
                 stopwords: bool = True, threads: int = 1, verbose: bool = False, backend: str = "pisa"):
        if index is None and dataset is None:
            raise ValueError("BM25 needs a dataset (to index) or an index")
        self.dataset = load_dataset(dataset) if dataset is not None else None
        analyzer = Analyzer(stemmer, stopwords)
        if index is None:
            index = PisaTextIndex.for_dataset(self.dataset, analyzer, threads)
        elif not isinstance(index, PisaTextIndex):
            index = PisaTextIndex(index, analyzer, threads)
        self.index = index
        self.k1, self.b, self.num_results = float(k1), float(b), int(num_results)
        self.threads, self.verbose = threads, verbose
        self._retriever = None

    @property
    def params(self) -> dict:
        return {"k1": self.k1, "b": self.b, "num_results": self.num_results,
                "stemmer": self.index.analyzer.stemmer, "stopwords": self.index.analyzer.stopwords}

    def __repr__(self) -> str:
        where = repr(self.dataset.name) if self.dataset is not None else repr(str(self.index.path))
        analyzer = self.index.analyzer
        extra = (f", stemmer={analyzer.stemmer!r}" if analyzer.stemmer != "porter2" else "") + \
                (", stopwords=False" if not analyzer.stopwords else "")
        return f"BM25({where}, k1={self.k1}, b={self.b}, num_results={self.num_results}{extra})"

    def to_config(self) -> dict:
        """Constructor arguments as plain values (``tir.to_yaml``)."""
        where = {"dataset": self.dataset.name} if self.dataset is not None else {"index": str(self.index.path)}
        return {**where, "k1": self.k1, "b": self.b, "num_results": self.num_results,
                "stemmer": self.index.analyzer.stemmer, "stopwords": self.index.analyzer.stopwords}

    def fingerprint(self) -> dict:
        """What this stage computes: its parameters and the identity of the indexed corpus and analyzer."""
        corpus = self.dataset.fingerprint() if self.dataset is not None else (self.index.manifest or {}).get(
            "corpus_fingerprint", str(self.index.path))
        return {"k1": self.k1, "b": self.b, "num_results": self.num_results, "corpus": corpus,
                "analyzer": self.index.analyzer.as_dict()}

    def prepare(self) -> "BM25":
        """Build the index if needed and open it for retrieval (not part of query time)."""
        if self._retriever is None:
            if not self.index.built():
                if self.dataset is None:
                    raise FileNotFoundError(f"{self}: index {self.index.path} is not built and no dataset was given")
                self.index.build(self.dataset)
            with redirect_native_output(self.index.path / "retrieval.log"):
                self._retriever = self.index.pisa().bm25(k1=self.k1, b=self.b, num_results=self.num_results,
                                                         threads=self.threads, verbose=self.verbose)
        return self

    def fuse_rank_cutoff(self, k: int) -> "BM25":
        """``self % k``: ask PISA for ``k`` results instead of cutting afterwards."""
        return with_num_results(self, k, reset=["_retriever"])

    def transform_outputs(self, input_columns: list[str]) -> list[str]:
        return retriever_outputs(self, input_columns)

    def transform(self, topics: pd.DataFrame) -> pd.DataFrame:
        columns = self.transform_outputs(list(topics.columns))
        topics = without_results(topics)
        if not len(topics):
            return pd.DataFrame(columns=columns)
        self.prepare()
        if self.index.analyzer.pretokenised:
            topics = topics.assign(query_toks=topics["query"].map(self.index.analyzer.toks))
            results = self._retriever.transform(topics).drop(columns=["query_toks"])
        else:
            results = self._retriever.transform(topics)
        for column, dtype in (("score", "float64"), ("rank", "int64")):
            if results[column].dtype != dtype:
                results[column] = results[column].astype(dtype)
        return results
