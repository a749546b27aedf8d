"""BM25 retrieval on PISA as a PyTerrier transformer."""
from __future__ import annotations

import numbers
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from ..core.native import redirect_native_output
from ..core.retriever import Retriever, first_depth, top_k
from ..core.stage import Count, Fraction, NonNegative, ParameterError, Stage
from ..data import DatasetLike, load_dataset
from .analyzer import STEMMERS, Analyzer
from .pisa_index import PisaTextIndex


# PISA takes a weighted query term as round-down(weight) repeats: weights are scaled so that the smallest is at
# least MIN_REPEATS repeats (rounded, within 0.25%) and the largest at most MAX_REPEATS; integer weights (counts)
# are used as they are.
MIN_REPEATS, MAX_REPEATS = 200, 100_000
# MaxScore sums a document's term scores in the same order whatever the depth asked for; PISA's default
# (block-max WAND) does not, so the same document's float32 score could differ between `bm25 % 10` and `bm25`
# (956 of Vaswani's top-116 scores did) and near-ties would swap.
QUERY_ALGORITHM = "maxscore"


def _repeat_scale(weights) -> float:
    positive = [w for w in weights if w > 0]
    if not positive or all(float(w).is_integer() for w in positive):
        return 1.0
    return min(MIN_REPEATS / min(positive), MAX_REPEATS / max(positive))


class BM25(Retriever, Stage):
    """BM25 over a PISA index of ``dataset`` (built on first use) or over an explicit ``index``.

    ``BM25("vaswani", k1=0.9, b=0.4) % 100`` asks PISA for 100 results (the cutoff is fused).
    A query with no indexable terms (only stopwords or punctuation) gets no results. A ``query_toks`` column
    (``{term: weight}``, terms as the index holds them, e.g. from :class:`RM3`) is used instead of the query
    text: the score is ``sum(weight * BM25(term, doc))``. ``qtf=True`` weights each query term by its count in the
    query, as Anserini's bag-of-words queries and Terrier do (PISA's default counts a repeated term once).
    ``backend="lucene"`` gives the same stage on Lucene through Pyserini (:class:`LuceneBM25`).
    """

    def __new__(cls, *args, backend: str = "pisa", **kwargs):
        if backend == "lucene":
            from .lucene import LuceneBM25
            return LuceneBM25(*args, **kwargs)
        if backend != "pisa":
            raise ParameterError(cls.__name__, "backend", f"should be 'pisa' or 'lucene' (got {backend!r})")
        return super().__new__(cls)

    def __init__(self, dataset: "DatasetLike | None" = None, *,
                 index: "PisaTextIndex | str | Path | None" = None, k1: NonNegative = 0.9, b: Fraction = 0.4,
                 num_results: Count = 1000, stemmer: Literal[STEMMERS] = "porter2", stopwords: bool = True,
                 threads: Count = 1, verbose: bool = False, backend: Literal["pisa", "lucene"] = "pisa",
                 qtf: bool = False):
        if index is None and dataset is None:
            raise ValueError("BM25 needs a dataset (to index) or an index")
        self.dataset = load_dataset(dataset) if dataset is not None else None
        self.k1, self.b, self.num_results = float(k1), float(b), int(num_results)
        self.stemmer, self.stopwords, self.threads, self.verbose, self.backend = stemmer, stopwords, threads, verbose, backend
        self.qtf = bool(qtf)
        analyzer = Analyzer(stemmer, stopwords)
        self._index = index if index is None or isinstance(index, PisaTextIndex) else PisaTextIndex(index, analyzer, threads)
        self.index = self._index or PisaTextIndex.for_dataset(self.dataset, analyzer, threads)
        self._engines: dict[tuple[bool, int], object] = {}

    def prepare(self) -> "BM25":
        """Build the index if needed and open it for retrieval (not part of query time); once open, nothing to do
        (``transform`` calls this for every batch: reading the index manifest again would cost more than a query)."""
        if (self.qtf, first_depth(self.num_results)) in self._engines:
            return self
        if not self.index.built():
            if self.dataset is None:
                raise FileNotFoundError(f"{self}: index {self.index.path} is not built and no dataset was given")
            self.index.build(self.dataset)
        self._engine(self.qtf, first_depth(self.num_results))
        return self

    def _retrieve(self, topics: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
        self.prepare()
        toks = self.index.analyzer.toks
        if "query_toks" in topics.columns:
            return top_k(self._weighted_results, topics, self.num_results)
        if self.qtf:
            results = top_k(self._weighted_results, topics.assign(query_toks=topics["query"].map(toks)), self.num_results)
            return results.drop(columns=["query_toks"])
        if self.index.analyzer.pretokenised:
            def search(queries: pd.DataFrame, depth: int) -> pd.DataFrame:
                return self._engine(False, depth).transform(queries.assign(query_toks=queries["query"].map(toks)))
            return top_k(search, topics, self.num_results).drop(columns=["query_toks"])
        return top_k(lambda queries, depth: self._engine(False, depth).transform(queries), topics, self.num_results)

    def _engine(self, weighted: bool, depth: int):
        """PISA's BM25 asked for ``depth`` results, opened once: on the text query, or (``weighted``) on
        ``{term: weight}`` queries whose terms are already analysed (no stemming, no stopwords)."""
        if (weighted, depth) not in self._engines:
            index = self.index.pisa()
            if weighted:
                import warnings

                import pyterrier_pisa
                with warnings.catch_warnings():  # PISA warns that the index was built with a stemmer: the point
                    warnings.simplefilter("ignore")
                    index = pyterrier_pisa.PisaIndex(str(self.index.path), stemmer="none", stops="none",
                                                     threads=self.threads)
            with redirect_native_output(self.index.path / "retrieval.log"):
                self._engines[(weighted, depth)] = index.bm25(
                    k1=self.k1, b=self.b, num_results=depth, threads=self.threads, verbose=self.verbose,
                    query_algorithm=QUERY_ALGORITHM, **({"query_weighted": True, "toks_scale": 1.0} if weighted else {}))
        return self._engines[(weighted, depth)]

    def _weighted_results(self, topics: pd.DataFrame, depth: int) -> pd.DataFrame:
        """``depth`` results for weighted term queries: each query's weights scaled to repeat counts
        (``_repeat_scale``), the scores scaled back."""
        bad = [q for q, t in zip(topics["qid"], topics["query_toks"])
               if not isinstance(t, dict) or not all(isinstance(w, numbers.Real) for w in t.values())]
        if bad:
            raise TypeError(f"{self}: query_toks must be {{term: number}} dicts; not for qid(s) {bad[:5]}")
        scale = [_repeat_scale(t.values()) for t in topics["query_toks"]]
        scaled = [{k: v * s + (0.5 if s != 1.0 else 0.0) for k, v in t.items() if v > 0}
                  for t, s in zip(topics["query_toks"], scale)]
        results = self._engine(True, depth).transform(topics.assign(query_toks=scaled))
        row = pd.Index(topics["qid"]).get_indexer(results["qid"])
        results["score"] = results["score"].to_numpy() / np.asarray(scale)[row]
        results["query_toks"] = topics["query_toks"].to_numpy()[row]
        return results
