"""What first-stage retrievers share: the qid/query -> docno/score/rank contract and fused ``% k``."""
from __future__ import annotations

import copy
from typing import Iterable, Sequence, TypeVar

import numpy as np
import pandas as pd

from .columns import require_columns

RESULT_ADDED = ("docno", "score", "rank")
R = TypeVar("R")


def retriever_outputs(stage: object, input_columns: Iterable[str]) -> list[str]:
    """A retriever's output columns: its input's (less earlier results) then ``docno, score, rank``."""
    columns = list(input_columns)
    require_columns(stage, columns, ["qid", "query"])
    return [c for c in columns if c not in RESULT_ADDED] + list(RESULT_ADDED)


def without_results(topics: pd.DataFrame) -> pd.DataFrame:
    """The queries of ``topics``: earlier results' ``docno, score, rank`` dropped (a retriever ranks afresh)."""
    drop = [c for c in RESULT_ADDED if c in topics.columns]
    if not drop and isinstance(topics.index, pd.RangeIndex) and topics.index.start == 0 and topics.index.step == 1:
        return topics  # already plain queries (the common case; copying would cost more than the search at batch 1)
    return topics.drop(columns=drop).reset_index(drop=True)


def results_frame(queries: pd.DataFrame, rows: Sequence[int], docnos: Sequence[str], scores: Sequence[float],
                  ranks: Sequence[int], columns: list[str]) -> pd.DataFrame:
    """A retriever's results: for each ``i``, row ``rows[i]`` of ``queries`` with ``docnos[i]``, ``scores[i]``
    (float64) and ``ranks[i]`` (int64), in ``columns`` order."""
    rows = np.asarray(rows, dtype=np.int64)
    data = {c: queries[c].to_numpy()[rows] for c in queries.columns if c not in RESULT_ADDED}
    data.update(docno=np.asarray(docnos, dtype=object), score=np.asarray(scores, dtype=np.float64),
                rank=np.asarray(ranks, dtype=np.int64))
    return pd.DataFrame({c: data[c] for c in columns})  # one construction: ~3x faster than iloc + assignments


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
