"""A TREC run file as a first-stage retriever (re-rank published candidate lists)."""
from __future__ import annotations

from functools import cached_property
from pathlib import Path

import pandas as pd

from ..core import file_sha256
from ..core.retriever import retriever_outputs, without_results
from ..core.stage import ParameterError, Stage
from .load import DatasetLike, load_dataset
from .trec import read_run


class RunFile(Stage):
    """The results a TREC run file holds for its input topics (its scores, ranked by score as
    :func:`~transformers_ir.data.read_run` reads them; topics the file does not have get none):
    ``RunFile(dl19, "run.bm25.top100.txt") >> reranker``. ``path`` is relative to the dataset's folder when the
    dataset has one and the file is there, else to the working directory."""

    def __init__(self, dataset: "DatasetLike | None" = None, path: str | Path = ""):
        if not str(path):
            raise ParameterError("RunFile", "path", "is required (a TREC run file)")
        self.dataset = load_dataset(dataset) if dataset is not None else None
        self._path = path
        beside = Path(getattr(self.dataset, "path", "")) / path if self.dataset is not None else None
        self.path = (beside if beside is not None and beside.is_file() else Path(path)).resolve()
        if not self.path.is_file():
            where = f" (nor in {beside.parent})" if beside is not None else ""
            raise FileNotFoundError(f"RunFile: no run file {self.path}{where}")

    def identity(self) -> dict:
        """The run by its content."""
        return {"path": file_sha256(self.path)}

    @cached_property
    def run(self) -> pd.DataFrame:
        """The whole run (``qid, docno, score, rank``), read and checked once."""
        return read_run(self.path)[["qid", "docno", "score", "rank"]]

    def transform_outputs(self, input_columns: list[str]) -> list[str]:
        return retriever_outputs(self, input_columns)

    def transform(self, topics: pd.DataFrame) -> pd.DataFrame:
        columns = self.transform_outputs(list(topics.columns))
        results = without_results(topics).merge(self.run, on="qid", how="inner")
        return results.reset_index(drop=True)[columns]
