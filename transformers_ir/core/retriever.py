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
    return topics[_query_columns(list(topics.columns))].drop_duplicates("qid").reset_index(drop=True)


def results_frame(queries: pd.DataFrame, rows: Sequence[int], docnos: Sequence[str], scores: Sequence[float],
                  ranks: Sequence[int], columns: list[str]) -> pd.DataFrame:
    """A retriever's results: for each ``i``, row ``rows[i]`` of ``queries`` with ``docnos[i]``, ``scores[i]``
    (float64) and ``ranks[i]`` (int64), in ``columns`` order."""
    results = queries.iloc[np.asarray(rows, dtype=np.int64)].reset_index(drop=True)
    results["docno"] = np.asarray(docnos, dtype=object)
    results["score"] = np.asarray(scores, dtype=np.float64)
    results["rank"] = np.asarray(ranks, dtype=np.int64)
    return results[columns]


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
    position = pd.Series(np.arange(len(queries)), index=queries["qid"].to_numpy())
    parts, depth, pending = [], first_depth(k), queries
    while len(pending):
        found = search(pending, depth)
        found = (found.assign(_at=position.reindex(found["qid"]).to_numpy())
                 .sort_values(["_at", "score", "docno"], ascending=[True, False, False], kind="stable"))
        groups = found.groupby("qid", sort=False)["score"]
        count, last = groups.size(), groups.last()
        kth = found.groupby("qid", sort=False).nth(k - 1).set_index("qid")["score"].reindex(count.index)
        unresolved = count.index[(count >= depth) & (last == kth)]
        parts.append(found[~found["qid"].isin(unresolved)])
        pending, depth = pending[pending["qid"].isin(unresolved)], depth * 4
    results = pd.concat(parts, ignore_index=True).sort_values("_at", kind="stable") if parts else queries.iloc[:0]
    results = results.drop(columns=["_at"], errors="ignore").groupby("qid", sort=False).head(k).reset_index(drop=True)
    results["rank"] = results.groupby("qid", sort=False).cumcount().astype("int64")
    results["score"] = results["score"].astype("float64")
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
