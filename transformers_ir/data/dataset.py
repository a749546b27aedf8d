"""The dataset interface shared by local folders and ir_datasets: ours, and PyTerrier's."""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Iterator, Sequence

import pandas as pd
import pyterrier as pt

from ..core import cache_dir
from .docstore import DocStore

if TYPE_CHECKING:
    from .text_loader import TextLoader


class Dataset(pt.datasets.Dataset, ABC):
    """A test collection: topics and qrels per split, a corpus, and a document-text store.

    It is also a ``pt.datasets.Dataset``: ``get_topics(variant)`` / ``get_qrels(variant)`` (the variant is the
    split), ``get_corpus_iter()``, ``text_loader(fields, verbose=...)`` (so ``pt.text.get_text(ds, "text")``
    works) and ``info_url()``, for PyTerrier code and plugins.
    """

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
        """The on-disk docno -> text store of the corpus as it is now, built on first use."""
        path = cache_dir() / "docstores" / f"{self.fingerprint()[:20]}.sqlite"
        store = getattr(self, "_docstore", None)
        if store is None or store.path != path:
            store = DocStore(path)
            if not store.built():
                store.build(self.corpus_iter())
            self._docstore = store
        return store

    def text_loader(self, fields: "Sequence[str] | str" = ("text",), *, verbose: bool = False) -> "TextLoader":
        """A stage that attaches document text to results (``bm25 % 100 >> ds.text_loader() >> rr``); ``fields``
        is ``"text"``, ``"title"``, a list of them, or ``"*"`` (all the corpus has). ``verbose`` is accepted as
        ``pt.text.get_text`` passes it (lookups are a few SQL queries: there is no progress to show)."""
        from .text_loader import TextLoader
        return TextLoader(self, fields)

    # PyTerrier's dataset API
    def get_topics(self, variant: str | None = None) -> pd.DataFrame:
        """``topics(variant)``: PyTerrier's name for it (a variant is a split)."""
        return self.topics(variant)

    def get_qrels(self, variant: str | None = None) -> pd.DataFrame:
        """``qrels(variant)``: PyTerrier's name for it (a variant is a split)."""
        return self.qrels(variant)

    def get_corpus_iter(self, *, verbose: bool = True) -> Iterator[dict]:
        """``corpus_iter()``, with a progress bar when ``verbose`` (as PyTerrier's datasets)."""
        docs = self.corpus_iter()
        return pt.tqdm(docs, desc=f"{self.name} documents", unit="doc") if verbose else docs

    def info_url(self) -> str | None:
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"
