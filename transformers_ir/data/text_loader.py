"""Attaching document text to results: the stage before re-rankers that read text."""
from __future__ import annotations

from typing import Literal, Sequence

import pandas as pd

from ..core import require_columns
from ..core.stage import Stage
from .docstore import FIELDS
from .load import DatasetLike, load_dataset


class TextLoader(Stage):
    """Attaches document ``text`` (and ``title`` where the corpus has titles) to a results frame.

    ``bm25 % 100 >> TextLoader(dataset) >> reranker``; ``fields="*"``: all the corpus has. Unknown docnos raise
    a clear error.
    Not stored in the stage cache (``cache_output``): looking text up again is cheaper than storing it.
    """

    cache_output = False

    def __init__(self, dataset: "DatasetLike",
                 fields: Sequence[Literal[FIELDS]] | Literal[FIELDS] | Literal["*"] = ("text",)):
        self.dataset = load_dataset(dataset)
        if fields == "*":
            fields = self.dataset.docstore().fields()
        self.fields = (fields,) if isinstance(fields, str) else tuple(fields)

    def transform_outputs(self, input_columns: list[str]) -> list[str]:
        require_columns(self, input_columns, ["qid", "docno"])
        return list(input_columns) + [f for f in self.fields if f not in input_columns]

    def transform(self, inp: pd.DataFrame) -> pd.DataFrame:
        self.transform_outputs(list(inp.columns))
        if not len(inp):
            return inp.assign(**{f: pd.Series(dtype=object) for f in self.fields})
        docs = self.dataset.docstore().lookup(inp["docno"].tolist()).set_index("docno")
        missing = pd.Index(inp["docno"]).difference(docs.index)
        if len(missing):
            raise KeyError(f"{self}: docno(s) not in the corpus of {self.dataset.name!r}: {list(missing[:5])}")
        out = inp.copy()
        for field in self.fields:
            out[field] = docs[field].reindex(inp["docno"]).fillna("").to_numpy()
        return out
