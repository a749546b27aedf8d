"""RM3 pseudo-relevance feedback for BM25 on PISA, computed as Anserini (Pyserini's ``set_rm3``) computes it,
over the terms of our analyzer."""
from __future__ import annotations

import re
from collections import Counter
from typing import Annotated, Literal

import numpy as np
import pandas as pd
import pyterrier as pt
from annotated_types import Gt, Le

from ..core import require_columns
from ..core.stage import Count, Fraction, Stage
from ..data import DatasetLike, document_text, load_dataset
from .analyzer import STEMMERS, Analyzer
from .pisa_index import PisaTextIndex

_FEEDBACK_TERM = re.compile(r"[a-z0-9]{2,20}")


def document_frequencies(index: PisaTextIndex) -> tuple[dict[str, int], int]:
    """Each indexed term's document frequency and the number of documents, read from PISA's inverted index
    (``inv.docs``: ``[1, documents]`` then, per term in ``fwd.terms`` order, ``[df, docids...]``)."""
    docs = np.memmap(index.path / "inv.docs", dtype=np.uint32, mode="r")
    terms = (index.path / "fwd.terms").read_text(encoding="utf-8").splitlines()
    df, pos = {}, 2
    for term in terms:
        n = int(docs[pos])
        df[term] = n
        pos += n + 1
    if pos != len(docs):
        raise ValueError(f"{index.path}: inv.docs does not match fwd.terms ({len(terms)} terms)")
    return df, int(docs[1])


class RM3(Stage):
    """RM3 query expansion from the top ``fb_docs`` results: ``bm25 % 10 >> RM3(dataset) >> bm25``.

    As Anserini's ``Rm3Reranker`` (what Pyserini's ``set_rm3(fb_terms, fb_docs, original_query_weight)`` runs):
    each feedback document's term counts, kept to feedback-worthy terms (``[a-z0-9]``, 2-20 characters, in at most
    ``max_df`` of the documents) and pruned to its ``fb_terms`` most frequent, are L1-normalised and weighted by
    the document's score; their sum, pruned to ``fb_terms`` terms and L1-normalised, is interpolated with the
    L1-normalised query: ``fb_lambda * query + (1 - fb_lambda) * feedback``. Terms are those of our analyzer
    (``stemmer``, ``stopwords``: give the BM25 stage's), i.e. as the PISA index holds them.

    Output, as PyTerrier's query rewriters: one row per query; ``query_0`` keeps the query, ``query`` shows the
    expansion (``term^weight ...``) and ``query_toks`` holds it as ``{term: weight}``, which :class:`BM25` ranks
    by. A query whose input has ``query_toks`` (a second RM3) is expanded from those weights.
    """

    def __init__(self, dataset: "DatasetLike", *, fb_docs: Count = 10, fb_terms: Count = 10, fb_lambda: Fraction = 0.5,
                 stemmer: Literal[STEMMERS] = "porter2", stopwords: bool = True,
                 max_df: Annotated[float, Gt(0), Le(1)] = 0.1):
        self.dataset = load_dataset(dataset)
        self.fb_docs, self.fb_terms, self.fb_lambda = int(fb_docs), int(fb_terms), float(fb_lambda)
        self.stemmer, self.stopwords, self.max_df = stemmer, stopwords, float(max_df)
        self.analyzer = Analyzer(stemmer, stopwords)
        self.index = PisaTextIndex.for_dataset(self.dataset, self.analyzer)
        self._df: tuple[dict[str, int], int] | None = None

    def prepare(self) -> "RM3":
        """Build the index (for document frequencies) and the document-text store, outside query time."""
        if self._df is None:
            self.index.build(self.dataset)
            self.dataset.docstore()
            self._df = document_frequencies(self.index)
        return self

    def transform_outputs(self, input_columns: list[str]) -> list[str]:
        require_columns(self, input_columns, ["qid", "query", "docno", "score", "rank"])
        pushed = pt.model.push_queries(pd.DataFrame(columns=self._query_columns(input_columns)), keep_original=True)
        return list(pushed.columns) + (["query_toks"] if "query_toks" not in pushed.columns else [])

    @staticmethod
    def _query_columns(columns: list[str]) -> list[str]:
        keep = set(pt.model.query_columns(pd.DataFrame(columns=columns)))
        return [c for c in columns if c in keep]

    def transform(self, results: pd.DataFrame) -> pd.DataFrame:
        columns = self.transform_outputs(list(results.columns))
        if not len(results):
            return pd.DataFrame(columns=columns)
        self.prepare()
        top = results.sort_values(["qid", "rank"], kind="stable").groupby("qid", sort=False).head(self.fb_docs)
        texts = self.dataset.docstore().lookup(top["docno"].tolist()).set_index("docno")
        vectors = {d: self._feedback_vector(document_text(row)) for d, row in texts.iterrows()}
        queries = results[self._query_columns(list(results.columns))].drop_duplicates("qid").reset_index(drop=True)
        feedback = {qid: list(zip(group["docno"], group["score"])) for qid, group in top.groupby("qid", sort=False)}
        given = queries["query_toks"] if "query_toks" in queries.columns else [None] * len(queries)
        expanded = [self._expand(toks if isinstance(toks, dict) else Counter(self.analyzer.terms(query)),
                                 [(vectors.get(d, {}), s) for d, s in feedback.get(qid, [])])
                    for qid, query, toks in zip(queries["qid"], queries["query"], given)]
        out = pt.model.push_queries(queries, keep_original=True)
        out["query"] = [" ".join(f"{t}^{w:.4f}" for t, w in e.items()) for e in expanded]
        out["query_toks"] = expanded
        return out[columns]

    def _feedback_vector(self, text: str) -> dict[str, int]:
        """A document's feedback-worthy term counts, pruned to the ``fb_terms`` most frequent."""
        df, docs = self._df
        limit = self.max_df * docs
        counts = Counter(t for t in self.analyzer.terms(text) if _FEEDBACK_TERM.fullmatch(t) and df.get(t, 0) <= limit)
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:self.fb_terms])

    def _expand(self, query: dict[str, float], docs: list[tuple[dict[str, int], float]]) -> dict[str, float]:
        weights: Counter = Counter()
        for vector, score in docs:
            norm = sum(vector.values())
            if norm > 0.001:
                for term, count in vector.items():
                    weights[term] += count / norm * score
        top = sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))[:self.fb_terms]
        feedback_norm = sum(w for _, w in top)
        query_norm = sum(query.values())
        out: Counter = Counter()
        for term, weight in query.items():
            out[term] += self.fb_lambda * weight / query_norm
        for term, weight in top:
            if feedback_norm > 0:
                out[term] += (1 - self.fb_lambda) * weight / feedback_norm
        return {t: w for t, w in sorted(out.items(), key=lambda kv: (-kv[1], kv[0])) if w > 0}
