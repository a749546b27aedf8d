"""What first-stage retrievers share: the qid/query -> docno/score/rank contract and fused ``% k``."""
from __future__ import annotations

import copy
from typing import Callable, Iterable, Sequence, TypeVar

import numpy as np
import pandas as pd
import pyterrier as pt

from .columns import require_columns

RESULT_ADDED = ("docno", "score", "rank")
R = TypeVar("R")


def _query_columns(columns: list[str]) -> list[str]:
    """The columns a retriever keeps of its input: all of a query frame's; of a results frame (it has ``docno``),
    only PyTerrier's query columns (``qid``, ``query``, ``query_0``, ``query_toks``, ...), in input order."""
    if "docno" not in columns:
        return [c for c in columns if c not in RESULT_ADDED]
    keep = set(pt.model.query_columns(pd.DataFrame(columns=columns)))
    return [c for c in columns if c in keep]


def retriever_outputs(stage: object, input_columns: Iterable[str]) -> list[str]:
    """A retriever's output columns: its input's query columns then ``docno, score, rank``."""
    columns = list(input_columns)
    require_columns(stage, columns, ["qid", "query"])
    return _query_columns(columns) + list(RESULT_ADDED)


def without_results(topics: pd.DataFrame) -> pd.DataFrame:
    """The distinct queries of ``topics``, one row per ``qid``: a retriever given earlier results ranks each query
    once, afresh (never once per input row), keeping only the query columns."""
    columns = _query_columns(list(topics.columns))
    if (len(columns) == topics.shape[1] and isinstance(topics.index, pd.RangeIndex) and topics.index.start == 0
            and topics.index.step == 1 and topics["qid"].is_unique):
        return topics  # distinct plain queries already (the common case; a copy costs more than a batch-1 search)
    return topics[columns].drop_duplicates("qid").reset_index(drop=True)


def results_frame(queries: pd.DataFrame, rows: Sequence[int], docnos: Sequence[str], scores: Sequence[float],
                  ranks: Sequence[int], columns: list[str]) -> pd.DataFrame:
    """A retriever's results: for each ``i``, row ``rows[i]`` of ``queries`` with ``docnos[i]``, ``scores[i]``
    (float64) and ``ranks[i]`` (int64), in ``columns`` order."""
    rows = np.asarray(rows, dtype=np.int64)
    data = {c: queries[c].to_numpy()[rows] for c in queries.columns if c not in RESULT_ADDED}
    data.update(docno=np.asarray(docnos, dtype=object), score=np.asarray(scores, dtype=np.float64),
                rank=np.asarray(ranks, dtype=np.int64))
    return pd.DataFrame({c: data[c] for c in columns})  # one construction: ~3x faster than iloc + assignments


def first_depth(k: int) -> int:
    """How many results to ask an engine for to return ``k``: a margin to see past ties at the cutoff."""
    return k + max(16, k // 8)


def top_k(search: Callable[[pd.DataFrame, int], pd.DataFrame], queries: pd.DataFrame, k: int) -> pd.DataFrame:
    """Each query's top ``k`` in one canonical order — score descending, ties by docno descending, as trec_eval
    orders them — from ``search(queries, depth)``, which returns up to ``depth`` results per query in any order.

    Engines break ties at their cutoff arbitrarily, so ``bm25 % 10`` fused (the engine asked for 10) and ``bm25``
    cut at rank 10 afterwards could keep different documents of equal score. Here the engine is asked for
    :func:`first_depth` results, and again, four times deeper, for any query whose results at rank ``k`` are tied up
    to the last one it returned; the documents kept are then the same whatever depth the stage was asked for.
    """
    position = pd.Series(np.arange(len(queries)), index=queries["qid"].to_numpy()) if len(queries) > 1 else None
    parts, depth, pending = [], first_depth(k), queries
    while len(pending):  # (numpy, not groupby: ~10x faster for one query, as the batch-1 latency sample runs it)
        found = search(pending, depth)
        at = position.reindex(found["qid"]).to_numpy() if position is not None else np.zeros(len(found), np.int64)
        score = found["score"].to_numpy(dtype=np.float64)
        order = np.lexsort((-score, at))  # by query, score descending
        same = (at[order][1:] == at[order][:-1]) & ((score[order][1:] == score[order][:-1])
                                                     | np.isnan(score[order][1:]) & np.isnan(score[order][:-1]))
        if same.any():  # ties: docno descending breaks them
            order = np.lexsort((-pd.factorize(found["docno"], sort=True)[0], -score, at))
        at, score = at[order], score[order]
        starts = np.flatnonzero(np.r_[True, at[1:] != at[:-1]]) if len(at) else np.zeros(0, dtype=np.int64)
        counts = np.diff(np.r_[starts, len(at)])
        kth = np.where(counts >= k, score[np.minimum(starts + k - 1, len(at) - 1)], np.nan)
        unresolved = (counts >= depth) & (score[starts + counts - 1] == kth)  # tied from rank k to the last found
        within = np.arange(len(at)) - np.repeat(starts, counts)
        keep = ~np.repeat(unresolved, counts) & (within < k)
        rows = order[keep]
        in_order = np.array_equal(rows, np.arange(len(rows)))  # the engine's own order (a slice is ~free)
        parts.append((found.iloc[:len(rows)] if in_order else found.iloc[rows], within[keep], at[keep]))
        if not unresolved.any():
            break
        again = found["qid"].to_numpy()[order][starts[unresolved]]
        pending, depth = pending[pending["qid"].isin(again)], depth * 4
    if not parts:
        return queries.iloc[:0]
    if len(parts) == 1:
        results, rank = parts[0][0].reset_index(drop=True), parts[0][1]
    else:  # queries re-asked deeper come back in their places
        by_query = np.argsort(np.concatenate([at for _, _, at in parts]), kind="stable")
        results = pd.concat([f for f, _, _ in parts], ignore_index=True).iloc[by_query].reset_index(drop=True)
        rank = np.concatenate([r for _, r, _ in parts])[by_query]
    if not ("rank" in results and results["rank"].dtype == np.int64 and np.array_equal(results["rank"], rank)):
        results["rank"] = rank.astype(np.int64)
    if results["score"].dtype != np.float64:
        results["score"] = results["score"].astype(np.float64)
    return results


def with_num_results(stage: R, k: int, reset: Iterable[str] = ()) -> R:
    """``stage % k`` fused (PyTerrier's ``fuse_rank_cutoff``): ``stage`` itself when it returns at most ``k``
    results already, else a copy asking for ``k`` (attributes in ``reset`` set to ``None`` in the copy)."""
    if k >= stage.num_results:
        return stage
    clone = copy.copy(stage)
    clone.num_results = int(k)
    for attr in reset:
        setattr(clone, attr, None)
    return clone


class Retriever:
    """What a first-stage retriever stage shares (mixed in before :class:`~transformers_ir.core.stage.Stage`):
    ``qid, query`` in, each distinct query ranked once (see :func:`without_results`), ``docno, score, rank`` out,
    and ``self % k`` fused by asking for ``num_results = k``. A subclass implements :meth:`_retrieve`."""

    num_results: int

    def fuse_rank_cutoff(self: R, k: int) -> R:
        """``self % k``: ask the engine for ``k`` results instead of cutting afterwards."""
        return with_num_results(self, k)

    def transform_outputs(self, input_columns: list[str]) -> list[str]:
        return retriever_outputs(self, input_columns)

    def transform(self, topics: pd.DataFrame) -> pd.DataFrame:
        columns = self.transform_outputs(list(topics.columns))
        topics = without_results(topics)
        return self._retrieve(topics, columns) if len(topics) else pd.DataFrame(columns=columns)

    def _retrieve(self, queries: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
        """The results, in ``columns``, of ``queries`` (one row per qid, at least one)."""
        raise NotImplementedError
