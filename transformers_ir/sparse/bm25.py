"""BM25 retrieval on PISA as a PyTerrier transformer."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

import pandas as pd

from ..core.native import redirect_native_output
from ..core.retriever import retriever_outputs, with_num_results, without_results
from ..core.stage import Count, Fraction, NonNegative, ParameterError, Stage
from ..data import Dataset, load_dataset
from .analyzer import STEMMERS, Analyzer
from .pisa_index import PisaTextIndex


class BM25(Stage):
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
            raise ParameterError(cls.__name__, "backend", f"should be 'pisa' or 'lucene' (got {backend!r})")
        return super().__new__(cls)

    def __init__(self, dataset: "str | Path | Dataset | None" = None, *,
                 index: "PisaTextIndex | str | Path | None" = None, k1: NonNegative = 0.9, b: Fraction = 0.4,
                 num_results: Count = 1000, stemmer: Literal[STEMMERS] = "porter2", stopwords: bool = True,
                 threads: Count = 1, verbose: bool = False, backend: Literal["pisa", "lucene"] = "pisa"):
        if index is None and dataset is None:
            raise ValueError("BM25 needs a dataset (to index) or an index")
        self.dataset = load_dataset(dataset) if dataset is not None else None
        self.k1, self.b, self.num_results = float(k1), float(b), int(num_results)
        self.stemmer, self.stopwords, self.threads, self.verbose, self.backend = stemmer, stopwords, threads, verbose, backend
        analyzer = Analyzer(stemmer, stopwords)
        self._index = index if index is None or isinstance(index, PisaTextIndex) else PisaTextIndex(index, analyzer, threads)
        self.index = self._index or PisaTextIndex.for_dataset(self.dataset, analyzer, threads)
        self._retriever = None

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
        results["score"] = results["score"].astype("float64")
        results["rank"] = results["rank"].astype("int64")
        return results
