"""Any ``pt.datasets.Dataset`` (a PyTerrier plugin's, or one a user wrote) as one of ours."""
from __future__ import annotations

import hashlib
import json
from typing import Iterator

import pandas as pd
import pyterrier as pt

from ..core import TirError
from .dataset import Dataset


class PtDataset(Dataset):
    """A ``pt.datasets.Dataset`` through PyTerrier's API: ``get_topics`` / ``get_qrels`` (a split is a variant),
    ``get_corpus_iter`` (documents with ``docno`` and ``text``, optional ``title``). Its fingerprint is a hash
    of the corpus, computed by one pass over it on first use."""

    def __init__(self, dataset: pt.datasets.Dataset):
        self.pt_dataset = dataset
        self.name = f"pt:{getattr(dataset, 'name', None) or type(dataset).__name__}"
        self._fingerprint: str | None = None

    @property
    def splits(self) -> list[str]:
        return []

    def _fetch(self, what: str, fn):
        try:
            return fn()
        except Exception as e:
            raise TirError(f"{self.name}: the PyTerrier dataset could not provide its {what}: "
                           f"{type(e).__name__}: {e}") from e

    def topics(self, split: str | None = None) -> pd.DataFrame:
        topics = self._fetch("topics", lambda: self.pt_dataset.get_topics(split))
        missing = [c for c in ("qid", "query") if c not in topics.columns]
        if missing:
            raise TirError(f"{self.name}: its topics have no {missing} column(s) (columns: {list(topics.columns)}); "
                           "give the variant that names the query field")
        return topics[["qid", "query"]].astype({"qid": str})

    def qrels(self, split: str | None = None) -> pd.DataFrame:
        qrels = self._fetch("qrels", lambda: self.pt_dataset.get_qrels(split))
        return qrels[["qid", "docno", "label"]].astype({"qid": str, "docno": str})

    def corpus_iter(self) -> Iterator[dict]:
        docs = self._fetch("corpus", lambda: iter(self.pt_dataset.get_corpus_iter(verbose=False)))
        for i, doc in enumerate(docs):
            if "docno" not in doc:
                raise TirError(f"{self.name}: document {i} of its corpus has no 'docno' (fields: {sorted(doc)})")
            out = {"docno": str(doc["docno"]), "text": doc.get("text") or ""}
            if "title" in doc:
                out["title"] = doc["title"] or ""
            yield out

    def fingerprint(self) -> str:
        if self._fingerprint is None:
            h = hashlib.sha256()
            for doc in self.corpus_iter():
                h.update(json.dumps(doc, sort_keys=True).encode() + b"\n")
            self._fingerprint = h.hexdigest()
        return self._fingerprint

    def info_url(self) -> str | None:
        return self.pt_dataset.info_url()
