"""Datasets from ir_datasets (``irds:<id>``), for users with internet access."""
from __future__ import annotations

from typing import Iterator

import pandas as pd

from ..core import TirError, value_sha256
from .corpus import checked_documents
from .dataset import Dataset


class IrdsDataset(Dataset):
    """An ``ir_datasets`` id; a split is appended to the id (``irds:beir/scifact`` + ``test``)."""

    def __init__(self, irds_id: str):
        self.irds_id = irds_id
        self.name = f"irds:{irds_id}"
        self._base = self._load(irds_id)

    @staticmethod
    def _load(irds_id: str):
        import ir_datasets
        try:
            return ir_datasets.load(irds_id)
        except KeyError as e:
            raise TirError(f"ir_datasets does not know {irds_id!r} ({e})") from None

    @property
    def splits(self) -> list[str]:
        import ir_datasets
        prefix = self.irds_id + "/"
        return sorted(i[len(prefix):] for i in ir_datasets.registry._registered if i.startswith(prefix))

    def _split(self, split: str | None):
        return self._base if split is None else self._load(f"{self.irds_id}/{split}")

    def _fetch(self, what: str, fn):
        try:
            return fn()
        except TirError:
            raise
        except Exception as e:  # network, missing files, ...
            raise TirError(f"{self.name}: ir_datasets could not provide its {what}: {e}") from e

    def topics(self, split: str | None = None) -> pd.DataFrame:
        ds = self._split(split)

        def rows():
            for q in ds.queries_iter():
                text = getattr(q, "text", None) or next(v for v in q[1:] if isinstance(v, str))
                yield q.query_id, text
        return self._fetch("topics", lambda: pd.DataFrame(list(rows()), columns=["qid", "query"]))

    def qrels(self, split: str | None = None) -> pd.DataFrame:
        ds = self._split(split)
        return self._fetch("qrels", lambda: pd.DataFrame(
            [(q.query_id, q.doc_id, int(q.relevance)) for q in ds.qrels_iter()], columns=["qid", "docno", "label"]))

    def corpus_iter(self) -> Iterator[dict]:
        """The documents, each checked (see :mod:`transformers_ir.data.corpus`)."""
        return checked_documents(self._documents(), self.name, again=self._documents)

    def _documents(self) -> Iterator[dict]:
        for d in self._base.docs_iter():
            out = {"docno": d.doc_id, "text": getattr(d, "text", None) or getattr(d, "body", "") or ""}
            if hasattr(d, "title"):
                out["title"] = d.title or ""
            yield out

    def fingerprint(self) -> str:
        import ir_datasets
        return value_sha256({"irds": self.irds_id, "version": ir_datasets.__version__})

    def info_url(self) -> str:
        top = self.irds_id.split("/", 1)[0]
        return f"https://ir-datasets.com/{top}.html" + (f"#{self.irds_id}" if top != self.irds_id else "")


def irds_id_of(obj: object) -> str | None:
    """The ir_datasets id of a PyTerrier ``IRDSDataset`` (``pt.get_dataset("irds:...")``) or of an ``ir_datasets``
    dataset object (``ir_datasets.load(...)``); ``None`` for anything else."""
    if isinstance(getattr(obj, "_irds_id", None), str):
        return obj._irds_id
    if type(obj).__module__.startswith("ir_datasets.") and hasattr(obj, "docs_iter"):
        if not hasattr(obj, "dataset_id"):
            raise TirError(f"{obj!r} is an ir_datasets dataset without an id; pass 'irds:<id>' instead")
        return obj.dataset_id()
    return None
