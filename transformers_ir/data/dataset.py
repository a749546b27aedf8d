"""The dataset interface shared by local folders and ir_datasets."""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Iterator, Sequence

import pandas as pd

from ..core import cache_dir
from .docstore import DocStore


class Dataset(ABC):
    """A test collection: topics and qrels per split, a corpus, and a document-text store."""

    name: str

    @property
    @abstractmethod
    def splits(self) -> list[str]:
        """Names of the splits (``[]`` when the collection has a single set of topics)."""

    @abstractmethod
    def topics(self, split: str | None = None) -> pd.DataFrame:
        """``qid, query``."""

    @abstractmethod
    def qrels(self, split: str | None = None) -> pd.DataFrame:
        """``qid, docno, label``."""

    @abstractmethod
    def corpus_iter(self) -> Iterator[dict]:
        """Documents as dicts with ``docno``, ``text`` and, when the corpus has them, ``title``."""

    @abstractmethod
    def fingerprint(self) -> str:
        """A content hash of the corpus (indexes built from it are keyed by it)."""

    def docstore(self) -> DocStore:
        """The on-disk docno -> text store, built on first use."""
        store = getattr(self, "_docstore", None)
        if store is None:
            store = DocStore(cache_dir() / "docstores" / f"{self.fingerprint()[:20]}.sqlite")
            if not store.built():
                store.build(self.corpus_iter())
            self._docstore = store
        return store

    def text_loader(self, fields: Sequence[str] = ("text",)) -> "TextLoader":
        """A stage that attaches document text to results (``bm25 % 100 >> ds.text_loader() >> rr``)."""
        from .text_loader import TextLoader
        return TextLoader(self, fields)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"
