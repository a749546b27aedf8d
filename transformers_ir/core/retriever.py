"""What first-stage retrievers share: the qid/query -> docno/score/rank contract and fused ``% k``."""
from __future__ import annotations

import copy
from typing import Iterable, TypeVar

from .columns import require_columns

RESULT_ADDED = ("docno", "score", "rank")
R = TypeVar("R")


def retriever_outputs(stage: object, input_columns: Iterable[str]) -> list[str]:
    """A retriever's output columns: its input's (less earlier results) then ``docno, score, rank``."""
    columns = list(input_columns)
    require_columns(stage, columns, ["qid", "query"])
    return [c for c in columns if c not in RESULT_ADDED] + list(RESULT_ADDED)


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
